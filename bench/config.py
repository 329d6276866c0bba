"""Sizes of a bench run: the full run (under 10 minutes on the 2-core machine), ``--quick`` (under
2 minutes) and ``--smoke`` (tiny counts, about a minute: only proves that everything runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["full", "quick", "smoke"]


@dataclass(frozen=True)
class Sizes:
    mode: Mode
    # 1. lifecycle throughput: concurrent lifecycles, warm-up and measured lifecycles.
    concurrency: int
    warmup: int
    lifecycles: int
    # 2. latency at a fixed offered load (per second), for this many seconds.
    submits_per_s: float
    reads_per_s: float
    latency_seconds: float
    # ... and console pages (queue, request page, board) on top of the API's reads.
    pages_per_s: float
    # 3. open work: N requests waiting on their deadlines; lifecycles and submit probe per point.
    open_requests: int
    real_fill: int
    open_lifecycles: int
    submit_probe_seconds: float
    fill_concurrency: int
    # 4. read model on PostgreSQL: table sizes and timed runs per query.
    readmodel_rows: tuple[int, ...]
    query_runs: int
    # 5. escalation punctuality: requests, and how far ahead of now the closing time is set.
    escalation_requests: int
    closing_lead_seconds: int
    # 6. the supervisor's board: read-model rows (a SQLite file kept under var/bench) and timed
    # runs per query and scope.
    board_rows: int
    board_runs: int


FULL = Sizes(
    mode="full",
    concurrency=24,
    warmup=24,
    lifecycles=96,
    submits_per_s=10,
    reads_per_s=40,
    latency_seconds=25,
    pages_per_s=6,
    open_requests=20_000,
    real_fill=200,
    open_lifecycles=48,
    submit_probe_seconds=12,
    fill_concurrency=64,
    readmodel_rows=(100_000, 1_000_000),
    query_runs=200,
    escalation_requests=1_000,
    closing_lead_seconds=120,
    board_rows=1_000_000,
    board_runs=100,
)

QUICK = Sizes(
    mode="quick",
    concurrency=16,
    warmup=6,
    lifecycles=24,
    submits_per_s=10,
    reads_per_s=40,
    latency_seconds=5,
    pages_per_s=6,
    open_requests=1_000,
    real_fill=30,
    open_lifecycles=12,
    submit_probe_seconds=4,
    fill_concurrency=64,
    readmodel_rows=(100_000,),
    query_runs=60,
    escalation_requests=100,
    closing_lead_seconds=35,
    board_rows=100_000,
    board_runs=40,
)

SMOKE = Sizes(
    mode="smoke",
    concurrency=4,
    warmup=2,
    lifecycles=4,
    submits_per_s=4,
    reads_per_s=8,
    latency_seconds=2,
    pages_per_s=3,
    open_requests=40,
    real_fill=20,
    open_lifecycles=4,
    submit_probe_seconds=1,
    fill_concurrency=16,
    readmodel_rows=(2_000,),
    query_runs=5,
    escalation_requests=5,
    closing_lead_seconds=25,
    board_rows=2_000,
    board_runs=5,
)

MODES: dict[Mode, Sizes] = {"full": FULL, "quick": QUICK, "smoke": SMOKE}
