"""The resident's own voice (docs/design.md §4) on the time-skipping server: every rating records
its channel; a delivery texts the resident a rating link; a bad tier's rectification goes to that
tier's office, a bad overall rating naming no tier to the deciding office."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from daiban.core.sealed import Sealer
from daiban.store.rating_proofs import outbox_context
from models.contracts import RESIDENT_RECIPIENT
from models.db import RatingLinkRow, RatingRow
from tests.workflows.conftest import (
    AGENT,
    CITY,
    CITY_STAFF,
    RESIDENT,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    VILLAGE,
    Harness,
)
from tests.workflows.test_paths import rejected


async def _city_item_delivered(harness: Harness) -> str:
    rid = await harness.submit("dibao")
    for action, actor in (
        ("handoff", AGENT),
        ("accept", TOWNSHIP_STAFF),
        ("forward", TOWNSHIP_STAFF),
        ("accept", CITY_STAFF),
        ("approve", CITY_STAFF),
        ("deliver", AGENT),
    ):
        await harness.act(rid, action, actor)
    return rid


def _rating_row(harness: Harness, rid: str) -> RatingRow:
    with Session(harness.engine) as session:
        row = session.get(RatingRow, rid)
    assert row is not None
    return row


async def test_delivery_texts_the_resident_a_single_use_rating_link(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid, until="deliver")
    await harness.eventually(rid, lambda s: s.stage == "awaiting_rating")
    texts = [r for r in harness.outbox(rid) if r.recipient_role == RESIDENT_RECIPIENT]
    assert len(texts) == 1 and texts[0].sealed is not None
    # Neither the phone nor the link is in the clear in the outbox.
    assert RESIDENT.phone not in texts[0].message and "/pj/" not in texts[0].message
    opened = Sealer.from_settings(harness.settings).open(texts[0].sealed, outbox_context(rid))
    assert opened["phone"] == RESIDENT.phone
    assert "/pj/" in opened["text"] and len(opened["text"]) <= 70
    code = opened["text"].rsplit("/pj/", 1)[1]
    with Session(harness.engine) as session:
        links = session.exec(select(RatingLinkRow).where(RatingLinkRow.request_id == rid)).all()
    assert len(links) == 1 and code not in links[0].code_hash  # kept only as its hash

    state = await harness.act(
        rid, "rate", AGENT, score=5, rating_channel="link", rating_proof="link:abc"
    )
    assert state.rating is not None and state.rating.channel == "link"
    assert state.rating_proofs == ["link:abc"]


async def test_a_rating_with_a_confirmation_code_is_the_residents(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid, until="deliver")
    state = await harness.act(
        rid,
        "rate",
        AGENT,
        score=4,
        tiers={"village": 5, "township": 4},
        rating_channel="sms_code",
        rating_proof="code:1",
    )
    assert state.rating is not None
    assert (state.rating.channel, state.rating.tiers) == ("sms_code", {"village": 5, "township": 4})
    assert (state.stage, state.status) == ("completed", "closed")
    await harness.eventually(rid, lambda s: s.status == "closed")
    row = _rating_row(harness, rid)
    assert (row.channel, row.tiers) == ("sms_code", {"village": 5, "township": 4})
    read = harness.row(rid)
    assert read is not None and read.rating_channel == "sms_code"


async def test_a_rating_without_proof_is_the_agents_unconfirmed_word(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid, until="deliver")
    state = await harness.act(rid, "rate", AGENT, score=5)
    assert state.rating is not None and state.rating.channel == "agent_unconfirmed"
    await harness.eventually(rid, lambda s: s.status == "closed")
    assert _rating_row(harness, rid).channel == "agent_unconfirmed"
    note = harness.ledger(rid)[-1].note or ""
    assert "[agent_unconfirmed]" in note


async def test_the_window_passing_gives_the_default(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid, until="deliver")
    await harness.env.sleep(timedelta(days=8))
    state = await harness.eventually(rid, lambda s: s.rating is not None)
    assert state.rating is not None
    assert (state.rating.channel, state.rating.is_default) == ("default", True)
    assert state.rating.score == harness.settings.default_rating


async def test_a_used_proof_rates_no_more(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid, until="deliver")
    await harness.act(rid, "rate", AGENT, score=1, rating_channel="link", rating_proof="link:x")
    await harness.act(rid, "callback", TOWNSHIP_STAFF, note="已回访", reached=True)
    await harness.act(rid, "rectify", TOWNSHIP_STAFF, note="已整改", outcome="fixed")
    failure = await rejected(
        harness, rid, "rate", AGENT, score=5, rating_channel="link", rating_proof="link:x"
    )
    assert failure.type == "ActionNotAllowed"


async def test_a_bad_township_tier_is_rectified_by_the_township(harness: Harness) -> None:
    rid = await _city_item_delivered(harness)
    tiers = {"village": 5, "township": 2, "city": 4}
    state = await harness.act(rid, "rate", AGENT, score=3, tiers=tiers, rating_channel="sms_code")
    assert (state.stage, state.responsible_office) == ("rectification", TOWNSHIP)
    rectification = next(c for c in state.clocks if c.name == "rectification")
    assert rectification.office == TOWNSHIP
    # The city decided the item, but the township was rated bad: the township answers for it.
    await rejected(harness, rid, "callback", CITY_STAFF, note="不归市级", reached=True)
    await harness.act(rid, "callback", TOWNSHIP_STAFF, note="已回访", reached=True)
    state = await harness.act(
        rid, "rectify", TOWNSHIP_STAFF, note="重新讲解政策", outcome="explained"
    )
    assert (state.stage, state.rectified) == ("completed", True)


async def test_a_bad_village_tier_goes_to_the_village_proxy_room(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.drive(rid, until="deliver")
    state = await harness.act(rid, "rate", AGENT, score=4, tiers={"village": 1, "township": 5})
    assert (state.stage, state.responsible_office) == ("rectification", VILLAGE)
    await harness.eventually(rid, lambda s: s.stage == "rectification")
    told = [(r.recipient_office, r.recipient_role) for r in harness.outbox(rid)]
    assert (VILLAGE, "agent") in told
    # The proxy room's agent answers it: calls the resident back and puts it right.
    await rejected(harness, rid, "callback", TOWNSHIP_STAFF, note="不归乡镇", reached=True)
    await harness.act(rid, "callback", AGENT, note="已上门回访", reached=True)
    state = await harness.act(rid, "rectify", AGENT, note="已补办并道歉", outcome="fixed")
    assert (state.stage, state.rectified) == ("completed", True)


async def test_a_bad_overall_rating_naming_no_tier_goes_to_the_deciding_office(
    harness: Harness,
) -> None:
    rid = await _city_item_delivered(harness)
    state = await harness.act(rid, "rate", AGENT, score=2, tiers={"township": 4})
    assert (state.stage, state.responsible_office) == ("rectification", CITY)


async def test_two_bad_tiers_go_to_the_worst_and_tell_the_other(harness: Harness) -> None:
    rid = await _city_item_delivered(harness)
    state = await harness.act(rid, "rate", AGENT, score=2, tiers={"township": 2, "city": 1})
    assert state.responsible_office == CITY
    await harness.eventually(rid, lambda s: s.stage == "rectification")
    told = {(r.recipient_office, r.message) for r in harness.outbox(rid)}
    assert any(office == TOWNSHIP and "差评" in message for office, message in told)

    tie = await _city_item_delivered(harness)
    state = await harness.act(tie, "rate", AGENT, score=3, tiers={"village": 2, "township": 2})
    assert state.responsible_office == CITY  # a tie: the deciding office


async def test_only_tiers_that_handled_the_request_are_rated(harness: Harness) -> None:
    rid = await harness.submit()  # a township item: the city never saw it
    await harness.drive(rid, until="deliver")
    failure = await rejected(harness, rid, "rate", AGENT, score=4, tiers={"city": 4})
    assert failure.type == "InvalidAction"
    assert failure.details[0]["errors"][0]["field"] == "tiers"
    failure = await rejected(harness, rid, "rate", AGENT, score=4, tiers={"village": 6})
    assert failure.type == "InvalidAction"
