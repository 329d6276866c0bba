"""Accept with a gap (容缺受理) by the published rules (docs/design.md §4a): only the item's gap
list, on a recorded commitment, due by the promised deadline; no approval while the gap is open;
``supply_gap`` closes it; an unsupplied gap closes the request as lapsed on its due date. Dates
are hand-counted against the test schedule in conftest (Monday 4 March 2030 is the anchor)."""

from __future__ import annotations

from daiban.core.sealed import Sealer
from daiban.domain.notice_render import notice_document
from daiban.domain.offices import demo_offices
from daiban.store.db import load_offices
from daiban.store.notices import opened_content
from tests.workflows.conftest import (
    AGENT,
    CITY,
    CITY_STAFF,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    VILLAGE,
    Harness,
    cst,
)
from tests.workflows.test_ladder import minute
from tests.workflows.test_notices_issued import notices
from tests.workflows.test_paths import rejected

# linshi-jiuzhu, a township item of 10 working days: accepted Mon 4 March 09:00, its promised
# deadline is Mon 18 March 17:00. Its gap list holds one material.
GAP_MATERIAL = "遭遇困难情况证明"
COMMITMENT = {"commitment": "承诺书 2030-017：三个工作日内补交"}


async def accepted_with_gap(harness: Harness, due: str = "2030-03-08", item: str = "") -> str:
    rid = await harness.submit(item) if item else await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    material = {"dibao": "家庭收入证明"}.get(item, GAP_MATERIAL)
    state = await harness.act(
        rid, "accept_with_gap", TOWNSHIP_STAFF, missing_materials=[material], due=due, **COMMITMENT
    )
    assert state.gap is not None and state.gap.status == "open"
    return rid


async def test_a_supplied_gap_allows_the_approval(harness: Harness) -> None:
    load_offices(harness.engine, demo_offices())  # the issuer's name is printed on the notice
    rid = await accepted_with_gap(harness)
    state = await harness.state(rid)
    assert state.gap is not None
    assert (state.gap.materials, state.gap.due, state.gap.commitment) == (
        [GAP_MATERIAL],
        "2030-03-08",
        COMMITMENT["commitment"],
    )
    assert (state.gap.commitment_by, state.gap.office) == ("resident", TOWNSHIP)
    # The 容缺受理通知书 names the commitment it was accepted on.
    [notice] = [n for n in notices(harness) if n.request_id == rid]
    printed = opened_content(notice, Sealer.from_settings(harness.settings))
    assert (notice.kind, printed["commitment"]) == ("gap_acceptance", COMMITMENT["commitment"])
    text = "".join(notice_document(printed, notice.sha256).paragraphs)
    assert f"书面承诺：{COMMITMENT['commitment']}" in text
    failure = await rejected(harness, rid, "approve", TOWNSHIP_STAFF)
    assert failure.type == "ActionNotAllowed"
    assert "the gap materials have not been supplied" in failure.message
    assert "approve" not in failure.details[0]["allowed_actions"]
    assert "deny" in failure.details[0]["allowed_actions"]

    await harness.skip_to(cst("2030-03-06 10:00"))
    state = await harness.act(rid, "supply_gap", AGENT)
    assert state.gap is not None and state.gap.status == "supplied"
    assert state.gap.supplied_at is not None
    assert minute(state.gap.supplied_at) == cst("2030-03-06 10:00")
    assert state.gap.supplied_by == AGENT.sub
    assert state.missing_materials == []
    assert all(c.name != "gap" for c in state.clocks)  # the gap clock stopped
    row = [r for r in harness.ledger(rid) if r.action == "supply_gap"]
    assert len(row) == 1 and GAP_MATERIAL in (row[0].note or "")
    assert any(
        r.recipient_office == TOWNSHIP and "容缺材料已补齐" in r.message
        for r in harness.outbox(rid)
    )
    await rejected(harness, rid, "supply_gap", AGENT)  # once
    state = await harness.act(rid, "approve", TOWNSHIP_STAFF)
    assert (state.stage, state.decision) == ("result_delivery", "approved")
    # The due date passing later changes nothing.
    await harness.skip_to(cst("2030-03-08 17:00"))
    state = await harness.eventually(rid, lambda s: s.version >= state.version)
    assert state.stage == "result_delivery"


async def test_supply_gap_is_the_agents_of_the_village_while_a_gap_is_open(
    harness: Harness,
) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    failure = await rejected(harness, rid, "supply_gap", AGENT)  # no gap
    assert failure.type == "ActionNotAllowed"
    rid = await accepted_with_gap(harness)
    assert (await rejected(harness, rid, "supply_gap", TOWNSHIP_STAFF)).type == "Forbidden"
    other_village = type(AGENT)("agent-2", "agent", "370285004002")
    assert (await rejected(harness, rid, "supply_gap", other_village)).type == "ActionNotAllowed"


async def test_an_unsupplied_gap_lapses_at_the_closing_time_of_its_due_date(
    harness: Harness,
) -> None:
    # Due Saturday 9 March, a day off: the materials may still arrive until the closing time of
    # the next working day, Monday 11 March 17:00.
    rid = await accepted_with_gap(harness, due="2030-03-09")
    state = await harness.state(rid)
    gap = next(c for c in state.clocks if c.name == "gap")
    assert gap.deadline == cst("2030-03-11 17:00")
    assert "容缺受理" in state.service_notice
    await harness.skip_to(cst("2030-03-11 16:50"))
    state = await harness.state(rid)
    assert state.stage == "township_review" and state.gap is not None
    assert state.gap.status == "open"
    await harness.skip_to(cst("2030-03-11 17:00"))
    state = await harness.eventually(rid, lambda s: s.stage == "lapsed")
    assert state.status == "closed" and state.clocks == []
    assert state.gap is not None and state.gap.status == "lapsed"
    assert (state.history[-1].action, state.history[-1].note) == ("lapse", "gap not supplied")
    lapse = [r for r in harness.ledger(rid) if r.action == "lapse"]
    assert [(r.to_stage, r.note, minute(r.at)) for r in lapse] == [
        ("lapsed", "gap not supplied", cst("2030-03-11 17:00"))
    ]
    told = [r for r in harness.outbox(rid) if r.recipient_office == VILLAGE and "容缺" in r.message]
    assert told and "申请已终止" in told[-1].message
    assert "未在承诺期限内补齐容缺材料" in state.service_notice
    assert (await harness.handles[rid].result()).stage == "lapsed"


async def test_only_materials_of_the_gap_list_may_be_missing(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=[GAP_MATERIAL, "户口簿"], due="2030-03-08", **COMMITMENT,
    )  # fmt: skip
    assert failure.type == "InvalidAction"
    errors = failure.details[0]["errors"]
    assert [e["field"] for e in errors] == ["missing_materials"]
    assert "户口簿" in errors[0]["message"] and GAP_MATERIAL in errors[0]["message"]
    # The commitment is required; an agent who signed it names the authorisation it holds.
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=[GAP_MATERIAL], due="2030-03-08",
    )  # fmt: skip
    assert failure.details[0]["errors"][0]["field"] == "commitment"
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=[GAP_MATERIAL], due="2030-03-08", commitment_by="agent", **COMMITMENT,
    )  # fmt: skip
    assert failure.details[0]["errors"][0]["field"] == "authorisation"
    state = await harness.act(
        rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=[GAP_MATERIAL], due="2030-03-08", commitment_by="agent",
        authorisation="授权委托书（申请人签字，2030-03-04）", **COMMITMENT,
    )  # fmt: skip
    assert state.gap is not None
    assert (state.gap.commitment_by, state.gap.authorisation) == (
        "agent",
        "授权委托书（申请人签字，2030-03-04）",
    )


async def test_an_item_without_a_gap_list_refuses_the_gap(harness: Harness) -> None:
    rid = await harness.submit("tekun")  # 特困人员认定: every material is needed at acceptance
    state = await harness.act(rid, "handoff", AGENT)
    assert state.gap_materials == []
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=["户口簿"], due="2030-03-08", **COMMITMENT,
    )  # fmt: skip
    assert failure.type == "ActionNotAllowed"
    assert "gap list is empty" in failure.message
    assert "accept_with_gap" not in failure.details[0]["allowed_actions"]


async def test_a_due_date_after_the_promised_deadline_is_refused(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=[GAP_MATERIAL], due="2030-03-19", **COMMITMENT,
    )  # fmt: skip
    assert failure.type == "InvalidAction"
    [error] = failure.details[0]["errors"]
    assert (error["field"], error["latest"]) == ("due", "2030-03-18")
    assert "2030-03-18" in failure.message
    state = await harness.state(rid)
    assert (state.accepted_at, state.gap, state.stage) == (None, None, "township_review")
    assert [c.name for c in state.clocks] == ["acceptance"]  # as it was
    # The promised deadline itself is allowed.
    state = await harness.act(
        rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=[GAP_MATERIAL], due="2030-03-18", **COMMITMENT,
    )  # fmt: skip
    assert state.deadline == cst("2030-03-18 17:00")
    assert next(c for c in state.clocks if c.name == "gap").deadline == state.deadline


async def test_a_denial_may_be_issued_while_a_gap_is_open(harness: Harness) -> None:
    rid = await accepted_with_gap(harness)
    state = await harness.act(rid, "deny", TOWNSHIP_STAFF, note="家庭收入超过救助标准")
    assert (state.stage, state.decision) == ("result_delivery", "denied")
    assert state.gap is not None and state.gap.status == "closed"
    assert all(c.name != "gap" for c in state.clocks)
    await harness.skip_to(cst("2030-03-08 17:00"))  # the due date passes: nothing lapses
    assert (await harness.state(rid)).stage == "result_delivery"


async def test_a_city_item_is_forwarded_once_its_township_gap_is_supplied(
    harness: Harness,
) -> None:
    # 低保 at the township: the step clock (5 working days) is the promise accepting starts,
    # Mon 11 March; the township holds the gap and forwards a complete dossier.
    rid = await harness.submit("dibao")
    await harness.act(rid, "handoff", AGENT)
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=["家庭收入证明"], due="2030-03-12", **COMMITMENT,
    )  # fmt: skip
    assert failure.details[0]["errors"][0]["latest"] == "2030-03-11"
    rid = await accepted_with_gap(harness, item="dibao")
    failure = await rejected(harness, rid, "forward", TOWNSHIP_STAFF)
    assert "the gap materials have not been supplied" in failure.message
    await harness.act(rid, "supply_gap", AGENT)
    state = await harness.act(rid, "forward", TOWNSHIP_STAFF)
    assert (state.stage, state.responsible_office) == ("city_review", CITY)
    await harness.act(rid, "accept", CITY_STAFF)
    state = await harness.act(rid, "approve", CITY_STAFF)
    assert state.decision == "approved"


async def test_a_supplement_asked_while_a_gap_is_open_includes_and_closes_it(
    harness: Harness,
) -> None:
    rid = await accepted_with_gap(harness)
    state = await harness.act(
        rid, "request_supplement", TOWNSHIP_STAFF, missing_materials=["家庭经济状况核对授权书"]
    )
    # 补正 asks for the complete list at once: the gap's material is on it.
    assert state.missing_materials == ["家庭经济状况核对授权书", GAP_MATERIAL]
    assert state.gap is not None and state.gap.status == "open"
    assert all(c.name != "gap" for c in state.clocks)  # the supplement window runs instead
    state = await harness.act(rid, "supplement", AGENT)
    assert state.gap is not None and state.gap.status == "supplied"
    state = await harness.act(rid, "approve", TOWNSHIP_STAFF)
    assert state.decision == "approved"


async def test_a_withdrawal_closes_an_open_gap(harness: Harness) -> None:
    rid = await accepted_with_gap(harness)
    state = await harness.act(rid, "withdraw", AGENT)
    assert (state.stage, state.clocks) == ("withdrawn", [])
    assert state.gap is not None and state.gap.status == "closed"
