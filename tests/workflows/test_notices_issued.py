"""Written notices (文书) issued by the actions that call for them, in the transaction that records
the action: numbered per office, kind and year without gaps, each with its SHA-256 in the ledger;
a retried recording takes no second number; a pause states its expected duration."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError

from activities.records import issue_notices
from daiban.core.sealed import Sealer
from daiban.domain.notices import ISSUED_KEYS
from daiban.domain.offices import demo_offices
from daiban.store.db import load_offices, session_scope
from daiban.store.ledger import append_events, verify
from daiban.store.notices import is_intact, opened_content
from models.contracts import LedgerEvent, NoticeRequest, TransitionRecord
from models.db import NoticeRow
from tests.workflows.conftest import AGENT, CITY, SUPERVISOR, TOWNSHIP, TOWNSHIP_STAFF, Harness
from tests.workflows.test_county_ladder import numbered

TZ = ZoneInfo("Asia/Shanghai")


def notices(harness: Harness) -> list[NoticeRow]:
    with Session(harness.engine) as session:
        return list(session.exec(select(NoticeRow).order_by(col(NoticeRow.id))))


async def test_actions_issue_their_notices_with_gapless_numbers(harness: Harness) -> None:
    load_offices(harness.engine, demo_offices())  # the issuer's name is printed on the notice
    first = await harness.submit()
    await harness.act(first, "handoff", AGENT)
    state = await harness.act(first, "accept", TOWNSHIP_STAFF)
    with pytest.raises(WorkflowUpdateFailedError):  # a pause states its expected duration
        await harness.act(first, "pause", TOWNSHIP_STAFF, reason="public_notice")
    await harness.act(first, "pause", TOWNSHIP_STAFF, reason="public_notice", expected_days=7)
    await harness.act(first, "resume", TOWNSHIP_STAFF)
    await harness.act(first, "deny", TOWNSHIP_STAFF, note="家庭收入超过标准")
    second = await harness.submit()
    await harness.act(second, "handoff", AGENT)
    await harness.act(second, "refuse", TOWNSHIP_STAFF, note="不属于本事项受理范围")
    third = await harness.submit()
    await harness.act(third, "handoff", AGENT)
    await harness.act(third, "accept", TOWNSHIP_STAFF)

    rows = notices(harness)
    assert [(r.request_id, r.kind, r.number) for r in rows] == [
        (first, "acceptance", "姜山受〔2030〕0001号"),
        (first, "special_procedure", "姜山特〔2030〕0001号"),
        (first, "denial", "姜山不批〔2030〕0001号"),
        (second, "refusal", "姜山不受〔2030〕0001号"),
        (third, "acceptance", "姜山受〔2030〕0002号"),
    ]
    acceptance = rows[0]
    sealer = Sealer.from_settings(harness.settings)
    assert acceptance.office == TOWNSHIP and is_intact(acceptance, sealer)
    assert state.expected_at is not None
    promised = state.expected_at.astimezone(TZ).date().isoformat()
    assert acceptance.content["promised_date"] == promised
    # Stored masked and sealed; as printed, the resident's name.
    assert acceptance.content["resident_name"]["masked"] == "王*英"
    assert opened_content(acceptance, sealer)["resident_name"] == "王秀英"
    assert rows[1].content["expected_days"] == 7
    # Each notice's number and SHA-256 are in the ledger, in the request's hash chain.
    ledger = [r for r in harness.ledger(first) if r.kind == "notice"]
    assert [(r.action, r.note) for r in ledger] == [
        (r.kind, f"{r.number} sha256 {r.sha256}") for r in rows[:3]
    ]
    with Session(harness.engine) as session:
        assert verify(session, first).ok


async def test_a_retried_recording_takes_no_second_number(harness: Harness) -> None:
    load_offices(harness.engine, demo_offices())
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    (issued,) = notices(harness)
    event = LedgerEvent(
        key=issued.key.removesuffix(":notice"),
        at=issued.issued_at,
        kind="action",
        actor="ts-1",
        role="township_staff",
        office=TOWNSHIP,
    )
    sealer = Sealer.from_settings(harness.settings)
    printed = opened_content(issued, sealer)
    given = {k: v for k, v in printed.items() if k not in ISSUED_KEYS}
    notice = NoticeRequest(issued.key, TOWNSHIP, "acceptance", given)
    record = TransitionRecord(state=state, events=[event], notices=[notice])
    # The activity's write again, as a retry would: the notice it issued, no second number.
    for _ in range(2):
        with session_scope(harness.engine) as session:
            rows = issue_notices(session, record, TZ, sealer)
            append_events(session, rid, rows)
            assert [r.note for r in rows] == [f"{issued.number} sha256 {issued.sha256}"]
    assert [n.number for n in notices(harness)] == [issued.number]
    assert len([r for r in harness.ledger(rid) if r.kind == "notice"]) == 1


async def test_a_supervision_order_issues_its_notice_to_the_addressed_office(
    harness: Harness,
) -> None:
    load_offices(harness.engine, demo_offices())
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "issue_order", SUPERVISOR, note="群众来电反映进度慢，请说明情况")
    order = await numbered(harness, rid)
    (notice,) = [n for n in notices(harness) if n.request_id == rid and n.kind == "supervision"]
    assert notice.office == CITY and notice.number.startswith("莱西督通")
    printed = opened_content(notice, Sealer.from_settings(harness.settings))
    assert printed["to_office_name"] == "姜山镇"
    assert printed["reason"] == "群众来电反映进度慢，请说明情况"
    assert printed["response_due"] == order.respond_by.astimezone(TZ).date().isoformat()
    assert "resident_name" not in printed  # addressed to the office, not the resident
    ledger = harness.ledger(rid)
    assert any(r.kind == "notice" and notice.number in (r.note or "") for r in ledger)
