"""Lawful extensions (延期, Licensing Law art. 42; docs/design.md §2) on the time-skipping server:
the statutory deadline moves out once by the item's extension, the promised deadline at most to
the new statutory one, the resident is told, and the statutory rung fires at the extended date.

zhaijidi (township, promised = statutory = 20 working days, extension 10 working days) accepted
Mon 2030-03-04 09:00: both deadlines Mon 1 April 17:00. Ten working days more: 2, 3 April; 4–6
off (Qingming); Sunday 7 worked; 8–12, 15, 16 → Tue 16 April 17:00.
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError

from tests.workflows.conftest import (
    AGENT,
    TOWNSHIP_STAFF,
    TOWNSHIP_SUPERVISOR,
    VILLAGE,
    Harness,
    cst,
)
from tests.workflows.test_county_ladder import rung, sent
from tests.workflows.test_ladder import minute


async def test_a_lawful_extension_moves_the_statutory_deadline_once(harness: Harness) -> None:
    rid = await harness.submit("zhaijidi")
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    assert state.lawful_extension is not None  # the limits are equal: room only by extension
    await harness.act(rid, "request_extension", TOWNSHIP_STAFF, days=15, note="需入户调查")
    state = await harness.act(rid, "approve_extension", TOWNSHIP_SUPERVISOR)
    official = next(c for c in state.clocks if c.name == "official")
    # 15 more working days would be 23 April: capped at the extended statutory deadline.
    assert official.statutory == official.deadline == cst("2030-04-16 17:00")
    assert state.expected_at == cst("2030-04-18 17:00")  # delivery: 17, 18 April
    assert "依法延期" in state.service_notice and "4月16日17:00" in state.service_notice
    outbox = await sent(harness, rid)
    assert any(r.recipient_office == VILLAGE and "延期告知" in r.message for r in outbox)
    # Nothing fires at the old date; the reminder, the yellow card and the statutory rung at the
    # extended one.
    await harness.skip_to(cst("2030-04-01 17:05"))
    assert (await harness.state(rid)).escalations == []
    state = await rung(harness, rid, 1, "2030-04-15 17:00")
    state = await rung(harness, rid, 3, "2030-04-16 17:00")
    assert [(e.level, minute(e.at)) for e in state.escalations] == [
        ("reminder", cst("2030-04-15 17:00")),
        ("yellow", cst("2030-04-16 17:00")),
        ("statutory", cst("2030-04-16 17:00")),
    ]
    # Granted once: a second request is refused.
    with pytest.raises(WorkflowUpdateFailedError):
        await harness.act(rid, "request_extension", TOWNSHIP_STAFF, days=1, note="再延")


async def test_an_item_without_a_lawful_extension_keeps_its_statutory_deadline(
    harness: Harness,
) -> None:
    rid = await harness.submit()  # linshi-jiuzhu: 10 days, statutory 20, no lawful extension
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    assert state.lawful_extension is None
    await harness.act(rid, "request_extension", TOWNSHIP_STAFF, days=15, note="需入户调查")
    state = await harness.act(rid, "approve_extension", TOWNSHIP_SUPERVISOR)
    official = next(c for c in state.clocks if c.name == "official")
    assert official.statutory == official.deadline == cst("2030-04-01 17:00")
    assert "依法延期" not in state.service_notice
