"""End-to-end lifecycles on the time-skipping server."""

from __future__ import annotations

from tests.workflows.conftest import AGENT, CITY, CITY_STAFF, TOWNSHIP, TOWNSHIP_STAFF, Harness, cst
from workflows.request import ResidentRequestWorkflow


async def test_township_item_end_to_end(harness: Harness) -> None:
    rid = await harness.submit("linshi-jiuzhu")  # township decides, 10 working days
    state = await harness.state(rid)
    assert state.stage == "village_intake"
    # Hand-off: 2 working days from Mon 4 March → Wed 6 March 17:00.
    assert state.deadline == cst("2030-03-06 17:00")
    # Promise: hand-off 2 + 10 + delivery 2 working days → 6 Mar, 20 Mar, 22 Mar.
    assert state.expected_at == cst("2030-03-22 17:00")

    state = await harness.act(rid, "handoff", AGENT)
    assert (state.stage, state.responsible_office) == ("township_review", TOWNSHIP)
    assert state.deadline == cst("2030-03-11 17:00")  # acceptance window, 5 working days
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    assert state.deadline == cst("2030-03-18 17:00")  # official clock, 10 working days
    state = await harness.act(rid, "approve", TOWNSHIP_STAFF, note="符合条件")
    assert (state.stage, state.decision, state.on_time) == ("result_delivery", "approved", True)
    state = await harness.act(rid, "deliver", AGENT)
    assert state.stage == "awaiting_rating"
    state = await harness.act(rid, "rate", AGENT, score=5, comment="很好")
    assert (state.stage, state.status) == ("completed", "closed")

    result = await harness.handles[rid].result()
    assert result.stage == "completed"
    actions = [h.action for h in result.history]
    assert actions == ["submit", "handoff", "accept", "approve", "deliver", "rate"]
    ledger = harness.ledger(rid)
    assert [r.seq for r in ledger] == list(range(1, len(ledger) + 1))
    assert [r.action for r in ledger] == actions
    row = harness.row(rid)
    assert row is not None and row.stage == "completed" and row.rating_score == 5
    assert row.version == result.version


async def test_city_item_end_to_end(harness: Harness) -> None:
    rid = await harness.submit("dibao")  # city decides, 25 working days (statutory 30)
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    assert state.deadline == cst("2030-03-11 17:00")  # township step: 5 working days
    state = await harness.act(rid, "forward", TOWNSHIP_STAFF)
    assert (state.stage, state.responsible_office) == ("city_review", CITY)
    state = await harness.act(rid, "accept", CITY_STAFF)
    state = await harness.act(rid, "approve", CITY_STAFF)
    state = await harness.act(rid, "deliver", AGENT)
    state = await harness.act(rid, "rate", AGENT, score=4)
    result = await harness.handles[rid].result()
    assert result.stage == "completed"
    assert [h.action for h in result.history] == [
        "submit",
        "handoff",
        "accept",
        "forward",
        "accept",
        "approve",
        "deliver",
        "rate",
    ]
    events = [e async for e in harness.handles[rid].fetch_history_events()]
    print(f"history events of one city-item lifecycle: {len(events)}")  # noqa: T201
    assert ResidentRequestWorkflow is not None
