"""The bench runs end to end: ``python -m bench --smoke`` (tiny sizes, about a minute) starts its
own Temporal dev server, databases, worker and API, and writes the JSON with all six sections.

No timing is asserted: the figures of a smoke run mean nothing. The real runs are ``make bench``
and ``make bench QUICK=1`` (BENCHMARKS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daiban.run.priority import BACKGROUND_NICENESS

SECTIONS = ("lifecycle", "latency", "open_work", "read_model", "escalation", "board")


@pytest.mark.timeout(280)
def test_smoke_run_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=270,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (written,) = out.glob("*.json")
    document = json.loads(written.read_text())
    assert document["mode"] == "smoke"
    for section in SECTIONS:
        assert document.get(section), f"section {section} is missing or empty"
        assert "skipped" not in document[section], document[section]
    assert document["lifecycle"]["bare"]["per_second"] > 0
    assert document["lifecycle"]["real"]["per_second"] > 0
    assert document["latency"]["latency_ms"]["submit"]["count"] > 0
    pages = ("page_queue", "page_request", "page_board")
    assert all(document["latency"]["latency_ms"][page]["count"] > 0 for page in pages)
    assert not set(pages) & set(document["latency"]["errors_by_kind"])  # each page was HTML, 200
    # Every page told its server time, and the pages' targets are held to it.
    server = document["latency"]["server_ms"]
    assert all(server[page]["count"] == document["latency"]["latency_ms"][page]["count"]
               for page in pages)  # fmt: skip
    held = {t["target"] for t in document["targets"] if "page p95 server time" in t["target"]}
    assert len(held) == len(pages), held
    assert document["open_work"]["full"]["open_requests"] >= document["open_work"]["n"]
    assert all(size["queries"] for size in document["read_model"]["sizes"])
    assert document["escalation"]["rows"] > 0
    # The pages asked for while the rungs fire: each was HTML, 200, and told its server time.
    burst = document["escalation"]["burst_pages"]
    assert burst["failures"] == 0 and not burst["errors_by_kind"]
    assert all(burst["server_ms"][page]["count"] == burst["latency_ms"][page]["count"] > 0
               for page in pages)  # fmt: skip
    assert document["background_niceness"] == BACKGROUND_NICENESS
    board = document["board"]["queries"]
    for scope in ("county", "township"):
        assert board[f"whole_render ({scope})"]["runs"] > 0
        assert board[f"cards ({scope})"]["p95_ms"] > 0
    assert {t["target"] for t in document["targets"]}
    # Every child process was stopped: nothing the run started still listens or runs.
    assert "Traceback" not in done.stdout
