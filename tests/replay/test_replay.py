"""Replay every stored history against the current workflow code.

A change to workflow logic that running workflows would see must go behind ``workflow.patched``;
if it does not, replaying these histories fails here, before a deploy. Refresh the histories with
``DAIBAN_RECORD_HISTORIES=1 pytest tests/workflows`` only for a deliberate, patched change.

Requests start through the API with update-with-start and ``ready``; the ``api_*`` histories are
made that way by ``python -m tests.replay.record_api``. Each release records its own into a
folder ``api-<release>``, which later releases keep replaying.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from daiban.core.settings import Settings
from daiban.core.temporal import converter
from worker import SANDBOXED_RUNNER
from workflows.request import ResidentRequestWorkflow

# histories/ holds the current code's histories; each subfolder, those of an earlier version that
# running workflows may still have (local-record: transitions recorded by a local activity,
# before the record-transition-after-commit patch; api-3d07b0d: requests submitted through the
# API by release 3d07b0d, whose ready answered before the registration was recorded; api-unbound:
# the same paths through the API before commands were bound to their request; unbound:
# commands neither bound to their request nor single-use, and extensions approved by any
# supervisor over the request, before the bound-commands and extension-approved-by-own-tier
# patches; record-in-lock and api-4ca9102: transitions recorded while the workflow's lock was
# held, before the record-outside-lock patch, the latter submitted through the API by release
# 4ca9102; before-statutory-rung: every path of the same release, before the statutory limit was a
# rung of its own on the deadline's instant, before ``expected_at`` followed a calendar change and
# before the county ladder with its supervision orders; their requests keep the earlier ladder;
# bafb704: every path of that release, direct and through the API, with one overall rating entered
# by the agent, one rectification step and 容缺 accepted for any material).
HISTORY_ROOT = Path(__file__).parent / "histories"
HISTORIES = sorted(HISTORY_ROOT.rglob("*.json"))


def test_histories_are_stored() -> None:
    # Every lifecycle path of tests/workflows is represented.
    current = [p for p in HISTORIES if p.parent.name == "histories"]
    names = {path.stem.rsplit("-", 1)[0] for path in current}
    assert {
        "city_item_end_to_end",
        "township_item_end_to_end",
        "pause_and_resume_across_weekend_and_holiday",
    } <= names
    assert len(current) >= 15
    assert len(HISTORIES) > len(current)  # and the earlier versions'
    # Started as the API starts them, by this release and by an earlier one.
    assert {p.stem for p in current if p.stem.startswith("api_")} >= {
        "api_township_item_at_the_counter-0",
        "api_city_item_deemed_accepted_and_bad_rating-0",
    }
    assert any(p.parent.name.startswith("api-") for p in HISTORIES)


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(f"req-{path.stem}", path.read_text())
    # The histories are encrypted like production ones; the development key decrypts them.
    replayer = Replayer(
        workflows=[ResidentRequestWorkflow],
        workflow_runner=SANDBOXED_RUNNER,
        data_converter=converter(Settings()),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def _patches(history: dict[str, Any]) -> set[str]:
    """The patch ids a history's markers record."""
    found = set()
    for event in history["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker is None or marker.get("markerName") != "core_patch":
            continue
        for payload in marker["details"]["patch-data"]["payloads"]:
            found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def _history(folder: str, stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HISTORY_ROOT / folder / f"{stem}.json").read_text())
    return data


async def test_a_gap_accepted_before_the_gap_rules_keeps_the_reminder() -> None:
    """A request accepted with a gap before the gap rules (any material, no commitment) saw its
    due date pass with a reminder to the office, and went on: replaying it proves the code still
    takes that path (a lapse would close the request and schedule other commands)."""
    old = _history("bafb704", "accept_with_gap_reminds_the_office_on_the_due_date-0")
    assert "gap-rules" not in _patches(old) and "written-notices" in _patches(old)
    types = [e["eventType"] for e in old["events"]]
    assert "EVENT_TYPE_TIMER_FIRED" in types  # the due date passed in it
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED" not in types  # and the request went on
    path = HISTORY_ROOT / "bafb704" / "accept_with_gap_reminds_the_office_on_the_due_date-0.json"
    await test_replay(path)
    # The histories of this code record the patch.
    assert "gap-rules" in _patches(_history(".", "api_gap_lapsed-0"))
