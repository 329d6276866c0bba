"""The bounded chaos run (``python -m chaos --ci``): faults injected while requests are in flight.

One run per module, as a subprocess (it starts PostgreSQL, the Temporal dev server, two workers and
the API of its own, on free ports, and stops them all); each test below reads one invariant of its
JSON report, so a failure names what broke. RELIABILITY.md describes the method.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The run takes about six minutes on two cores (the long outage alone 80 s); the bound leaves
# room for a slow machine.
RUN_TIMEOUT = 660
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 60)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    report = tmp_path_factory.mktemp("chaos") / "report.json"
    argv = [sys.executable, "-m", "chaos", "--ci", "--json", str(report)]
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    assert report.exists(), f"no report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(report.read_text())
    result["exit_code"] = done.returncode
    result["output"] = done.stdout + done.stderr
    return result


def checkpoints(run: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = run["checkpoints"]
    assert [c["checkpoint"] for c in found] == [
        "api-kill",
        "worker-kills",
        "temporal-restart",
        "db-outage",
        "previous-release",
        "long-outage",
        "hanging-webhook",
    ], run["output"]
    return found


def submitted(run: dict[str, Any], checkpoint: dict[str, Any]) -> int:
    """How many requests exist at a checkpoint: the late cohort from previous-release on."""
    profile = run["profile"]
    late = checkpoint["checkpoint"] in ("previous-release", "long-outage", "hanging-webhook")
    return int(profile["requests"] + (profile["late"] if late else 0))


def test_every_fault_was_injected_while_work_was_in_flight(run: dict[str, Any]) -> None:
    faults = [i["fault"] for i in run["injections"]]
    assert faults[0] == "SIGKILL api"
    assert sum(f.startswith("SIGKILL worker-") for f in faults) == 5
    assert "SIGKILL temporal, restart" in faults
    assert "stop postgres 20 s" in faults
    assert "deploy over release bafb704" in faults
    assert "stop postgres 80 s" in faults
    assert "webhook hangs 20 s" in faults
    assert len(faults) == 11
    assert all(i["inflight"] > 0 for i in run["injections"]), run["injections"]
    assert all(i["back_after"] is not None for i in run["injections"]), run["injections"]
    assert run["unexpected_exits"] == []


def test_every_request_reaches_its_stage_after_every_fault(run: dict[str, Any]) -> None:
    for checkpoint in checkpoints(run):
        assert checkpoint["requests"] == submitted(run, checkpoint), checkpoint["failures"]
        assert checkpoint["at_expected_stage"] == checkpoint["requests"], checkpoint["failures"]
        assert checkpoint["case_errors"] == [], checkpoint["failures"]
    requests = run["profile"]["requests"] + run["profile"]["late"]
    assert run["summary"]["completed"] == f"{requests}/{requests}"


def test_no_request_is_lost(run: dict[str, Any]) -> None:
    for checkpoint in checkpoints(run):
        assert checkpoint["lost"] == [], checkpoint["failures"]
    assert run["summary"]["lost"] == 0


def test_one_workflow_per_idempotency_key_and_no_duplicate_ledger_row(
    run: dict[str, Any],
) -> None:
    for checkpoint in checkpoints(run):
        assert checkpoint["duplicate_workflows"] == [], checkpoint["failures"]
        assert checkpoint["ledger_duplicates"] == [], checkpoint["failures"]
    assert run["summary"]["duplicates"] == 0


def test_every_hash_chain_verifies_and_matches_the_history(run: dict[str, Any]) -> None:
    for checkpoint in checkpoints(run):
        assert checkpoint["chains"] == submitted(run, checkpoint), checkpoint["failures"]
        assert checkpoint["chains_verified"] == checkpoint["chains"], checkpoint["failures"]
        assert checkpoint["ledger_vs_history"] == [], checkpoint["failures"]
    verified = run["api_verify"]
    assert verified["ok"] is True
    assert verified["checked"] == checkpoints(run)[-1]["ledger_rows"]


def test_the_read_model_agrees_with_the_workflows(run: dict[str, Any]) -> None:
    for checkpoint in checkpoints(run):
        assert checkpoint["readmodel_mismatches"] == [], checkpoint["failures"]
    assert run["summary"]["read_model_mismatches"] == 0


def test_database_outage_reads_and_readiness(run: dict[str, Any]) -> None:
    outage = run["outage"]
    assert outage["seconds"] >= 19.5
    assert outage["readyz"].get("503", 0) > 0 and outage["readyz"].get("200", 0) == 0, outage
    assert outage["ready_again_after"] is not None
    # A read that only needs the workflow must not fail with 500 while the database is down.
    assert outage["reads"].get("500", 0) == 0, outage


def test_no_workflow_fails_and_no_notification_is_sent_twice(run: dict[str, Any]) -> None:
    for checkpoint in checkpoints(run):
        assert checkpoint["failed_workflows"] == [], checkpoint["failures"]
        assert checkpoint["notifications_twice"] == [], checkpoint["failures"]
        assert checkpoint["notifications_failed"] == 0, checkpoint["failures"]
    assert checkpoints(run)[-1]["notifications_pending"] == 0  # all sent once it answers
    webhook = run["late"]["webhook"]
    assert webhook["held_without_answer"] > 0, webhook  # the hang met real sends


def test_every_record_for_the_province_is_exported_once(run: dict[str, Any]) -> None:
    """Workers killed while exporting, the database away: the file holds every record queued,
    each once, and nothing is left pending at the end."""
    for checkpoint in checkpoints(run):
        assert checkpoint["exports_lost"] == [], checkpoint["failures"]
        assert checkpoint["exports_twice"] == [], checkpoint["failures"]
        assert checkpoint["exports_failed"] == 0, checkpoint["failures"]
    last = checkpoints(run)[-1]
    assert last["exports_pending"] == 0
    # Records were exported: the checks above compared real ones.
    assert last["exports_in_file"] > 0


def test_every_call_is_answered_without_500_or_hang(run: dict[str, Any]) -> None:
    met = run["clients_met"]
    assert not [k for k in met if "HTTP 500" in k or "Timeout" in k], met


def test_the_long_outage_decides_rungs_on_time_and_loses_nothing(run: dict[str, Any]) -> None:
    outage = run["long_outage"]
    assert outage["seconds"] >= 79.5
    assert outage["readyz"].get("503", 0) > 0 and outage["readyz"].get("200", 0) == 0, outage
    assert outage["reads"].get("500", 0) == 0, outage
    late = run["late"]
    # Every late acceptance window expired inside the outage. The requests this release started
    # were deemed accepted inside it, on their timers; those of the previous release (recording
    # under its lock) inside it too, or once it was back when an earlier rung's recording held
    # their lock.
    current = late["started_by_current_release"]
    assert late["deemed_accepted_inside_outage"] == current > 0, late
    previous = late["started_by_previous_release"]
    assert late["previous_release_deemed"] == previous, late
    assert late["signalled"] > 0 and late["recomputed_after_edit"] > 0, late
    # A deploy of this code over requests the previous release had started through the API.
    assert previous > 0, late


def test_the_run_passes_with_exit_code_zero(run: dict[str, Any]) -> None:
    assert run["exit_code"] == 0, "\n".join(run["problems"]) or run["output"]
    assert run["passed"] is True
