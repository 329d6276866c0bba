"""The invariants checked after every fault and at the end.

Each checkpoint reads the three sources of truth independently: Temporal (every execution of the
request workflow type through visibility, and each workflow's ``state`` query), the read model
(``requests``) and the supervision ledger (``supervision_ledger``) straight from PostgreSQL. It is
repeated until every invariant holds or a bounded timeout passes (eventual polling: nothing is
asserted after a fixed sleep).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel
from temporalio.client import Client, WorkflowExecutionStatus

from chaos.workload import PHASES, Case
from daiban.store.ledger import verify
from models.contracts import RequestState
from workflows.request import ResidentRequestWorkflow

WORKFLOW_TYPE = "ResidentRequest"
QUERY_TIMEOUT = timedelta(seconds=10)
QUERY_CONCURRENCY = 16
SHOWN = 5  # examples kept per failed invariant
# A checkpoint whose failures stand unchanged this long is stuck, not converging: every retry
# interval of the system (activities, workflow tasks, sticky queues) is far shorter.
STUCK_AFTER = 30.0


@dataclass
class Verdict:
    """What one checkpoint found. Every list holds examples (ids and why); empty means held."""

    checkpoint: str
    requests: int = 0  # cases with a request id
    in_flight: int = 0  # cases still being driven (not failed)
    at_expected_stage: int = 0
    wrong_stage: list[str] = field(default_factory=list)
    case_errors: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicate_workflows: list[str] = field(default_factory=list)
    ledger_duplicates: list[str] = field(default_factory=list)
    chains: int = 0
    chains_verified: int = 0
    ledger_rows: int = 0
    ledger_vs_history: list[str] = field(default_factory=list)
    readmodel_mismatches: list[str] = field(default_factory=list)
    # Executions that ended other than completed (failed, terminated, timed out).
    failed_workflows: list[str] = field(default_factory=list)
    # Notifications the gateway accepted twice, or was sent again while a send was in flight.
    notifications_twice: list[str] = field(default_factory=list)
    # Outbox rows not sent yet (the last checkpoint waits for none) and given up on.
    notifications_pending: int = 0
    notifications_failed: int = 0
    # Records for the province: queued ones missing from the exported file (lost), keys the file
    # holds twice, and rows not sent yet (the last checkpoint waits for none) or given up on.
    exports_lost: list[str] = field(default_factory=list)
    exports_twice: list[str] = field(default_factory=list)
    exports_pending: int = 0
    exports_failed: int = 0
    exports_in_file: int = 0
    # Informational: same version, different timestamps (a transition recorded by an attempt of
    # the workflow task that was not the one that completed).
    time_drift: list[str] = field(default_factory=list)
    converged_after: float = 0.0
    rounds: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.wrong_stage
            or self.case_errors
            or self.lost
            or self.duplicate_workflows
            or self.ledger_duplicates
            or self.ledger_vs_history
            or self.readmodel_mismatches
            or self.failed_workflows
            or self.notifications_twice
            or self.notifications_failed
            or (self.final and self.notifications_pending)
            or self.exports_lost
            or self.exports_twice
            or self.exports_failed
            or (self.final and self.exports_pending)
            or self.chains_verified != self.chains
        )

    @property
    def final(self) -> bool:
        return self.checkpoint == PHASES[-1]

    def failures(self) -> list[str]:
        named = {
            "not at the expected stage": self.wrong_stage,
            "client failures": self.case_errors,
            "lost": self.lost,
            "duplicate workflows": self.duplicate_workflows,
            "ledger duplicates or gaps": self.ledger_duplicates,
            "ledger differs from history": self.ledger_vs_history,
            "read model differs from workflow": self.readmodel_mismatches,
            "workflows failed": self.failed_workflows,
            "notifications sent twice": self.notifications_twice,
            "export records lost": self.exports_lost,
            "export records in the file twice": self.exports_twice,
        }
        lines = []
        for name, examples in named.items():
            if examples:
                count = self.counts.get(name, len(examples))
                lines.append(f"{name} ({count}): " + "; ".join(examples[:SHOWN]))
        if self.chains_verified != self.chains:
            lines.append(f"hash chains broken: {self.chains - self.chains_verified}")
        if self.notifications_failed:
            lines.append(f"notifications given up: {self.notifications_failed}")
        if self.final and self.notifications_pending:
            lines.append(f"notifications never sent: {self.notifications_pending}")
        if self.exports_failed:
            lines.append(f"export records given up: {self.exports_failed}")
        if self.final and self.exports_pending:
            lines.append(f"export records never sent: {self.exports_pending}")
        return lines


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    request_id: str
    seq: int
    event_key: str
    action: str | None
    at: datetime
    kind: str = "action"

    @property
    def in_history(self) -> bool:
        """An action the request's history shows too: not a written notice's row (its action
        names the notice's kind), nor the system closing a request's open orders."""
        return self.action is not None and self.kind != "notice" and self.action != "close_order"


@dataclass(frozen=True)
class DatabaseView:
    rows: dict[str, tuple[str, str, int, datetime]]  # id → stage, status, version, updated_at
    ledger: dict[str, list[LedgerEntry]]  # request id → rows in seq order
    broken_row_ids: list[int]
    ledger_rows: int
    keys: dict[tuple[str, str], str]  # (agent, Idempotency-Key) → the request id it names
    outbox: Counter[str]  # notification rows by status
    exports: dict[str, str]  # export record key → its status in the export outbox


def read_database(engine: Engine) -> DatabaseView:
    requests = SQLModel.metadata.tables["requests"]
    ledger_table = SQLModel.metadata.tables["supervision_ledger"]
    key_table = SQLModel.metadata.tables["idempotency_keys"]
    outbox_table = SQLModel.metadata.tables["notification_outbox"]
    export_table = SQLModel.metadata.tables["export_outbox"]
    rows: dict[str, tuple[str, str, int, datetime]] = {}
    ledger: dict[str, list[LedgerEntry]] = defaultdict(list)
    total = 0
    with engine.connect() as connection:
        r_ = requests.c
        query = select(r_.id, r_.stage, r_.status, r_.version, r_.updated_at)
        for r in connection.execute(query):
            rows[r.id] = (r.stage, r.status, r.version, r.updated_at)
        k_ = key_table.c
        keys = {
            (k.agent, k.key): k.request_id
            for k in connection.execute(select(k_.agent, k_.key, k_.request_id))
        }
        o_ = outbox_table.c
        outbox: Counter[str] = Counter(
            {
                o.status: o.n
                for o in connection.execute(
                    select(o_.status, func.count().label("n")).group_by(o_.status)
                )
            }
        )
        e_ = export_table.c
        exports = {x.key: x.status for x in connection.execute(select(e_.key, e_.status))}
        l_ = ledger_table.c
        ordered = select(
            l_.id, l_.request_id, l_.seq, l_.event_key, l_.action, l_.at, l_.kind
        ).order_by(l_.request_id, l_.seq)
        for e in connection.execute(ordered):
            ledger[e.request_id].append(
                LedgerEntry(e.id, e.request_id, e.seq, e.event_key, e.action, e.at, e.kind)
            )
            total += 1
    with Session(engine) as session:
        verification = verify(session)
    return DatabaseView(rows, dict(ledger), list(verification.broken), total, keys, outbox, exports)


def exported_keys(path: Path) -> Counter[str]:
    """How often each record key stands in the exported JSON-lines file (none: no file yet)."""
    if not path.exists():
        return Counter()
    keys: Counter[str] = Counter()
    for line in path.read_bytes().splitlines():
        keys[json.loads(line)["key"]] += 1
    return keys


ENDED_BADLY = (
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)


async def workflow_executions(client: Client) -> tuple[Counter[str], list[str]]:
    """How many executions (open or closed, any run) each workflow id has, and those that ended
    other than completed."""
    executions: Counter[str] = Counter()
    bad: list[str] = []
    async for execution in client.list_workflows(f'WorkflowType = "{WORKFLOW_TYPE}"'):
        executions[execution.id] += 1
        if execution.status in ENDED_BADLY:
            bad.append(f"{execution.id}: {execution.status.name if execution.status else '?'}")
    return executions, bad


async def query_states(client: Client, ids: list[str]) -> dict[str, RequestState | str]:
    """Each workflow's ``state`` query, or why it could not be read."""
    slots = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def one(request_id: str) -> tuple[str, RequestState | str]:
        async with slots:
            handle = client.get_workflow_handle(f"req-{request_id}")
            try:
                state = await handle.query(ResidentRequestWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
            except Exception as error:  # reported per request; the checkpoint polls again
                return request_id, f"query failed: {type(error).__name__}: {error}"[:200]
            return request_id, state

    return dict(await asyncio.gather(*(one(i) for i in ids)))


async def inspect(
    client: Client,
    engine: Engine,
    cases: list[Case],
    phase: int,
    name: str,
    sent_twice: Callable[[], list[str]] | None = None,
    export_file: Path | None = None,
) -> Verdict:
    verdict = Verdict(checkpoint=name)
    executions, ended_badly = await workflow_executions(client)
    db = await asyncio.to_thread(read_database, engine)
    submitted = [c for c in cases if c.request_id is not None]
    ids = [c.request_id for c in submitted if c.request_id is not None]
    verdict.requests = sum(1 for c in cases if c.expected_stage(phase) is not None)
    states = await query_states(client, ids)
    verdict.in_flight = sum(1 for c in cases if c.error is None)
    verdict.ledger_rows = db.ledger_rows
    verdict.notifications_pending = db.outbox.get("pending", 0)
    verdict.notifications_failed = db.outbox.get("failed", 0)
    statuses = Counter(db.exports.values())
    verdict.exports_pending, verdict.exports_failed = statuses["pending"], statuses["failed"]
    counts: Counter[str] = Counter()

    def fail(bucket: list[str], name: str, example: str) -> None:
        counts[name] += 1
        if len(bucket) < SHOWN:
            bucket.append(example)

    for line in ended_badly:
        fail(verdict.failed_workflows, "workflows failed", line)
    for line in sent_twice() if sent_twice is not None else []:
        fail(verdict.notifications_twice, "notifications sent twice", line)
    for case in cases:
        if case.error is not None:
            fail(verdict.case_errors, "client failures", f"#{case.number} {case.error}")
        expected = case.expected_stage(phase)
        if expected is None:
            continue  # not submitted yet
        if case.request_id is None:
            fail(verdict.lost, "lost", f"#{case.number} never got a request id")
            continue
        rid = case.request_id
        # One request per key: every answer named the same id, the one the key's row names.
        named = db.keys.get((f"chaos-agent-{case.village}", case.key))
        if case.ids_seen != {named}:
            fail(
                verdict.duplicate_workflows,
                "duplicate workflows",
                f"key {case.key} answered with {sorted(case.ids_seen)}, its row names {named}",
            )
        runs = executions.get(f"req-{rid}", 0)
        if runs == 0 or rid not in db.rows:
            missing = " and ".join(
                what
                for what, gone in (("workflow", runs == 0), ("read-model row", rid not in db.rows))
                if gone
            )
            fail(verdict.lost, "lost", f"{rid}: no {missing}")
        if runs > 1:
            fail(verdict.duplicate_workflows, "duplicate workflows", f"{rid}: {runs} executions")
        state = states.get(rid)
        if not isinstance(state, RequestState):
            fail(
                verdict.readmodel_mismatches, "read model differs from workflow", f"{rid}: {state}"
            )
            continue
        if state.stage == expected:
            verdict.at_expected_stage += 1
        else:
            fail(
                verdict.wrong_stage,
                "not at the expected stage",
                f"{rid}: {state.stage}, expected {expected}",
            )
        drifted: list[str] = []
        row = db.rows.get(rid)
        if row is not None:
            theirs, ours = row[:3], (state.stage, state.status, state.version)
            if theirs != ours:
                fail(
                    verdict.readmodel_mismatches,
                    "read model differs from workflow",
                    f"{rid}: read model {theirs}, workflow {ours}",
                )
            elif row[3] != state.updated_at:
                drift = (state.updated_at - row[3]).total_seconds()
                drifted.append(f"{rid} v{state.version}: workflow - read model = {drift:+.1f} s")
        entries = db.ledger.get(rid, [])
        ledger_actions = [e.action for e in entries if e.in_history]
        history_actions = [h.action for h in state.history]
        if ledger_actions != history_actions:
            fail(
                verdict.ledger_vs_history,
                "ledger differs from history",
                f"{rid}: ledger {ledger_actions}, history {history_actions}",
            )
        else:
            acted = [e for e in entries if e.in_history]
            for entry, step in zip(acted, state.history, strict=True):
                if entry.at != step.at:
                    drift = (step.at - entry.at).total_seconds()
                    key, action = entry.event_key, step.action
                    drifted.append(f"{key} {action}: workflow - ledger = {drift:+.1f} s")
                    break
        if drifted:
            fail(verdict.time_drift, "time drift", "; ".join(drifted))

    known = {f"req-{c.request_id}" for c in submitted}
    for workflow_id in sorted(set(executions) - known):
        fail(verdict.duplicate_workflows, "duplicate workflows", f"{workflow_id}: no key names it")

    broken_requests: set[str] = set()
    broken = set(db.broken_row_ids)
    for request_id, entries in db.ledger.items():
        keys = Counter(e.event_key for e in entries)
        twice = [k for k, n in keys.items() if n > 1]
        if twice:
            fail(verdict.ledger_duplicates, "ledger duplicates or gaps", f"{request_id}: {twice}")
        seqs = [e.seq for e in entries]
        if seqs != list(range(1, len(seqs) + 1)):
            fail(verdict.ledger_duplicates, "ledger duplicates or gaps", f"{request_id}: {seqs}")
        if any(e.id in broken for e in entries):
            broken_requests.add(request_id)
    verdict.chains = len(db.ledger)
    verdict.chains_verified = verdict.chains - len(broken_requests)
    if export_file is not None:
        in_file = await asyncio.to_thread(exported_keys, export_file)
        verdict.exports_in_file = len(in_file)
        for key, status in sorted(db.exports.items()):
            if status == "sent" and key not in in_file:
                fail(verdict.exports_lost, "export records lost", f"{key}: sent, not in the file")
        for key in sorted(set(in_file) - set(db.exports)):
            fail(verdict.exports_lost, "export records lost", f"{key}: in the file, not queued")
        for key, n in sorted(in_file.items()):
            if n > 1:
                fail(verdict.exports_twice, "export records in the file twice", f"{key}: {n}×")
    verdict.counts = dict(counts)
    return verdict


async def converge(
    client: Client,
    engine: Engine,
    cases: list[Case],
    phase: int,
    name: str,
    timeout: float,
    stuck_after: float = STUCK_AFTER,
    sent_twice: Callable[[], list[str]] | None = None,
    export_file: Path | None = None,
) -> Verdict:
    """``inspect`` until every invariant holds, ``timeout`` seconds pass, or the same failures
    have stood unchanged for ``stuck_after`` seconds (nothing is converging); the last verdict."""
    start = time.monotonic()
    rounds = 0
    last: list[str] = []
    since = start
    while True:
        rounds += 1
        try:
            verdict = await inspect(client, engine, cases, phase, name, sent_twice, export_file)
        except Exception as error:  # a source unreadable for now: the checkpoint polls again
            verdict = Verdict(checkpoint=name, lost=[f"inspection failed: {error}"[:300]])
        now = time.monotonic()
        verdict.rounds = rounds
        verdict.converged_after = now - start
        failures = verdict.failures()
        if failures != last:
            last, since = failures, now
        if verdict.ok or now - start > timeout or now - since > stuck_after:
            return verdict
        await asyncio.sleep(1.0)
