"""The other paths of a request: refusal, silence, supplements, withdrawal, denial, ratings,
pauses and extensions. Dates are hand-counted against the test schedule in conftest (2030:
Qingming off Thu 4 – Sat 6 April, Sunday 7 April worked)."""

from __future__ import annotations

from datetime import date

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from daiban.store.calendar import load_calendar_year
from daiban.store.db import session_scope
from daiban.store.recompute import signal_open_requests
from tests.workflows.conftest import (
    AGENT,
    CITY_STAFF,
    SUPERVISOR,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    TOWNSHIP_SUPERVISOR,
    Harness,
    cst,
)
from tests.workflows.test_ladder import minute
from workflows.request import ResidentRequestWorkflow


async def rejected(
    harness: Harness, rid: str, action: str, actor: object, **fields: object
) -> ApplicationError:
    """Assert the update is rejected and nothing is written; return the failure."""
    before = await harness.state(rid)
    ledger_before = len(harness.ledger(rid))
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await harness.act(rid, action, actor, **fields)  # type: ignore[arg-type]
    after = await harness.state(rid)
    assert (after.version, len(after.history)) == (before.version, len(before.history))
    assert len(harness.ledger(rid)) == ledger_before
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_refuse_requires_a_reason_and_closes(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    failure = await rejected(harness, rid, "refuse", TOWNSHIP_STAFF)
    assert failure.type == "InvalidAction"
    assert failure.details[0]["errors"][0]["field"] == "note"
    state = await harness.act(rid, "refuse", TOWNSHIP_STAFF, note="不属于本事项受理范围")
    assert (state.stage, state.status, state.clocks) == ("refused", "closed", [])
    result = await harness.handles[rid].result()
    assert result.stage == "refused"


async def test_action_not_allowed_lists_the_allowed_ones(harness: Harness) -> None:
    rid = await harness.submit()
    failure = await rejected(harness, rid, "approve", TOWNSHIP_STAFF)
    assert failure.type == "ActionNotAllowed"
    assert failure.details[0]["allowed_actions"] == []  # nothing for township staff yet
    failure = await rejected(harness, rid, "accept", AGENT)
    assert failure.type == "Forbidden"  # an agent may never accept
    other_village = type(AGENT)("agent-2", "agent", "370285004002")
    failure = await rejected(harness, rid, "handoff", other_village)
    assert failure.type == "ActionNotAllowed"
    await harness.act(rid, "handoff", AGENT)
    failure = await rejected(harness, rid, "approve", TOWNSHIP_STAFF)
    assert failure.details[0]["allowed_actions"] == [
        "accept",
        "accept_with_gap",
        "request_supplement",
        "refuse",
    ]


async def test_office_that_never_answers_is_deemed_to_have_accepted(harness: Harness) -> None:
    rid = await harness.submit()  # linshi-jiuzhu, 10 working days
    await harness.act(rid, "handoff", AGENT)  # arrives Mon 4 March 09:00
    # Acceptance window: 5 working days → Mon 11 March 17:00.
    await harness.skip_to(cst("2030-03-11 17:00"))
    state = await harness.eventually(rid, lambda s: s.deemed_accepted)
    red = [e for e in state.escalations if e.level == "red"]
    assert [(e.clock, minute(e.at), e.office) for e in red] == [
        ("acceptance", cst("2030-03-11 17:00"), TOWNSHIP)
    ]
    # Accepted as of arrival: the official clock runs from Mon 4 March 09:00 → Mon 18 March.
    assert minute(state.accepted_at) == cst("2030-03-04 09:00")  # type: ignore[arg-type]
    assert state.deadline == cst("2030-03-18 17:00")
    assert state.red_flag and state.history[-1].action == "deemed_accept"
    ledger = harness.ledger(rid)
    assert [r.action for r in ledger if r.kind == "action"][-1] == "deemed_accept"
    assert any(
        r.kind == "escalation" and r.level == "red" and r.clock == "acceptance" for r in ledger
    )


async def test_supplement_window_lapses(harness: Harness) -> None:
    rid = await harness.submit(at=cst("2030-03-05 10:00"))
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(
        rid, "request_supplement", TOWNSHIP_STAFF, missing_materials=["收入证明"]
    )
    assert (state.stage, state.responsible_office) == ("awaiting_supplement", "370285004001")
    # 30 natural days from Tue 5 March → Thu 4 April, a holiday; Fri 5 and Sat 6 are too; Sun 7
    # is worked: the window ends Sun 7 April 17:00.
    assert state.deadline == cst("2030-04-07 17:00")
    await harness.skip_to(cst("2030-04-07 17:00"))
    state = await harness.eventually(rid, lambda s: s.stage == "lapsed")
    assert state.status == "closed"
    assert (await harness.handles[rid].result()).stage == "lapsed"


async def test_supplement_restarts_the_official_clock(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.skip_to(cst("2030-03-05 10:00"))
    await harness.act(rid, "request_supplement", TOWNSHIP_STAFF, missing_materials=["收入证明"])
    await harness.skip_to(cst("2030-03-07 10:00"))
    state = await harness.act(rid, "supplement", AGENT)
    assert (state.stage, state.missing_materials) == ("township_review", [])
    # Accepted again on Thu 7 March: 10 working days → Thu 21 March 17:00.
    assert minute(state.accepted_at) == cst("2030-03-07 10:00")  # type: ignore[arg-type]
    assert state.deadline == cst("2030-03-21 17:00")
    state = await harness.act(rid, "approve", TOWNSHIP_STAFF)
    assert state.stage == "result_delivery"


async def test_withdraw_before_a_decision_only(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "withdraw", AGENT, note="申请人撤回")
    assert (state.stage, state.status) == ("withdrawn", "closed")
    assert (await harness.handles[rid].result()).stage == "withdrawn"

    rid = await harness.submit()
    await harness.drive(rid, until="approve")
    failure = await rejected(harness, rid, "withdraw", AGENT)
    assert failure.details[0]["allowed_actions"] == ["deliver"]


async def test_deny_then_delivery_and_rating(harness: Harness) -> None:
    rid = await harness.submit("dibao")
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.act(rid, "forward", TOWNSHIP_STAFF)
    await harness.act(rid, "accept", CITY_STAFF)
    failure = await rejected(harness, rid, "deny", CITY_STAFF)
    assert failure.details[0]["errors"][0]["field"] == "note"
    state = await harness.act(rid, "deny", CITY_STAFF, note="家庭收入超过低保标准")
    assert (state.stage, state.decision, state.handling_office) == (
        "result_delivery",
        "denied",
        "370285000",
    )
    await harness.act(rid, "deliver", AGENT)
    state = await harness.act(rid, "rate", AGENT, score=3)
    assert (state.stage, state.rating.score if state.rating else None) == ("completed", 3)


async def test_bad_rating_opens_rectification_then_rectify(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid)
    state = await harness.act(rid, "rate", AGENT, score=1, comment="等太久")
    assert (state.stage, state.responsible_office) == ("rectification", TOWNSHIP)
    assert state.deadline == cst("2030-03-05 17:00")  # the callback: 1 working day
    state = await harness.act(rid, "callback", TOWNSHIP_STAFF, note="已回访", reached=True)
    assert state.deadline == cst("2030-03-11 17:00")  # the settlement: 5 working days
    state = await harness.act(
        rid, "rectify", TOWNSHIP_STAFF, note="说明原因并致歉", outcome="explained"
    )
    assert (state.stage, state.status, state.rectified) == ("completed", "closed", True)
    state = await harness.act(rid, "rate", AGENT, score=4)  # the resident rates the fix
    assert state.rating is not None and (state.rating.score, state.rating.fix_score) == (1, 4)
    assert (await harness.handles[rid].result()).rating.fix_score == 4  # type: ignore[union-attr]
    kinds = [r.kind for r in harness.ledger(rid)]
    assert kinds.count("rating") == 2 and kinds.count("rectification") == 2


async def test_rating_appeal_upheld_closes_rectification(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid)
    await harness.act(rid, "rate", AGENT, score=2)
    await rejected(harness, rid, "review_appeal", SUPERVISOR, upheld=True)  # nothing pending
    state = await harness.act(rid, "appeal_rating", TOWNSHIP_STAFF, note="评价对象错误")
    assert state.rating is not None and state.rating.appeal == "pending"
    state = await harness.act(rid, "review_appeal", SUPERVISOR, upheld=True, note="属实")
    assert (state.stage, state.rating.appeal if state.rating else None) == ("completed", "upheld")
    assert (await harness.handles[rid].result()).stage == "completed"


async def test_pause_and_resume_across_weekend_and_holiday(harness: Harness) -> None:
    rid = await harness.submit(at=cst("2030-03-26 10:00"))
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    # 10 working days from Tue 26 March: 27,28,29 Mar; 1,2,3 Apr; (4–6 off) 7 (Sun, worked),8,9,10.
    assert state.deadline == cst("2030-04-10 17:00")
    await harness.skip_to(cst("2030-03-28 10:00"))
    await rejected(harness, rid, "pause", TOWNSHIP_STAFF, reason="party")  # not a legal reason
    state = await harness.act(rid, "pause", TOWNSHIP_STAFF, reason="public_notice", expected_days=7)
    assert state.paused is not None and "公示" in state.service_notice
    await rejected(harness, rid, "approve", TOWNSHIP_STAFF)  # the clock is stopped
    # Paused past the original deadline: no rung fires while paused.
    await harness.skip_to(cst("2030-04-12 10:00"))
    state = await harness.act(rid, "resume", TOWNSHIP_STAFF)
    assert state.escalations == []
    # Paused working days in (28 Mar, 12 Apr]: 29; 1,2,3; 7,8,9,10,11,12 = 10.
    # Deadline 10 Apr + 10 working days → 11,12,15,16,17,18,19,22,23,24 → Wed 24 April.
    assert state.deadline == cst("2030-04-24 17:00")
    official = next(c for c in state.clocks if c.name == "official")
    # Statutory 20 working days from 26 Mar = 24 Apr, moved out by the same 10 → Wed 8 May.
    assert official.statutory == cst("2030-05-08 17:00")
    assert state.history[-1].note == "paused 10 working days"


async def test_extension_is_capped_at_statutory(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    assert state.deadline == cst("2030-03-18 17:00")
    await rejected(harness, rid, "request_extension", TOWNSHIP_STAFF, days=5)  # no reason
    await harness.act(rid, "request_extension", TOWNSHIP_STAFF, days=15, note="需入户调查")
    await rejected(harness, rid, "approve_extension", TOWNSHIP_STAFF)  # staff may not approve
    # Only the head of the township center approves its extension, not the city's supervisor.
    await rejected(harness, rid, "approve_extension", SUPERVISOR)
    state = await harness.act(rid, "approve_extension", TOWNSHIP_SUPERVISOR)
    # 15 more working days would be 8 April; the statutory limit (20) is Mon 1 April.
    assert state.deadline == cst("2030-04-01 17:00")
    assert state.extension is not None and state.extension.status == "approved"
    assert state.expected_at == cst("2030-04-03 17:00")  # delivery: 2 more working days
    await rejected(harness, rid, "request_extension", TOWNSHIP_STAFF, days=1, note="再延")


async def test_default_rating_after_the_rating_window(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid)
    state = await harness.state(rid)
    assert state.deadline == cst("2030-03-11 17:00")  # 7 natural days from Mon 4 March
    await harness.skip_to(cst("2030-03-11 17:00"))
    state = await harness.eventually(rid, lambda s: s.stage == "completed")
    assert state.rating is not None
    assert (state.rating.score, state.rating.is_default) == (3, True)
    row = harness.row(rid)
    assert row is not None and (row.rating_score, row.rating_default) == (3, True)


async def test_provisional_deadlines_are_recomputed_when_the_year_is_loaded(
    harness: Harness,
) -> None:
    # 2031 has no data yet: Mon–Fri, provisional. 10 working days from Fri 27 Dec 2030:
    # 30, 31 Dec; 1, 2, 3, 6, 7, 8, 9, 10 Jan → Fri 10 January 2031, provisional.
    rid = await harness.submit(at=cst("2030-12-27 09:00"))
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    assert (state.deadline, state.deadline_provisional) == (cst("2031-01-10 17:00"), True)
    # The administrator loads 2031 with New Year off Wed 1 – Fri 3 January.
    with session_scope(harness.engine) as session:
        holidays = [date(2031, 1, d) for d in (1, 2, 3)]
        load_calendar_year(session, 2031, holidays, [], note="State Council 2031")
    assert await signal_open_requests(harness.client, harness.engine) == 1
    # 30, 31 Dec; 6, 7, 8, 9, 10, 13, 14, 15 Jan → Wed 15 January, final.
    state = await harness.eventually(rid, lambda s: not s.deadline_provisional)
    assert state.deadline == cst("2031-01-15 17:00")
    assert state.history[-1].action == "recompute_deadlines"
    row = harness.row(rid)
    assert row is not None and not row.deadline_provisional
    assert row.deadline == cst("2031-01-15 17:00")
    # A second signal with nothing new changes nothing and writes nothing.
    version = state.version
    await harness.handles[rid].signal(ResidentRequestWorkflow.calendar_changed)
    await harness.act(rid, "approve", TOWNSHIP_STAFF)
    assert (await harness.state(rid)).version == version + 1
