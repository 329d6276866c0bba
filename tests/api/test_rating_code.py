"""The resident's own voice through real HTTP: the one-time confirmation code sent to the
resident's phone, the channel the API decides for each rating, and tier validation.

The SMS gateway is outside the system: the code is read where the gateway would get it, from the
outbox row (opened with the codec keys, as the courier opens it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import Session, col, select

from daiban.core.sealed import Sealer
from daiban.store.rating_proofs import outbox_context
from models.contracts import RESIDENT_RECIPIENT
from models.db import OutboxRow, RatingCodeRow
from tests.api.conftest import CITY_ITEM, RESIDENT, Caller, Stack


async def _delivered(agent: Caller, staff: Caller, city: Caller | None = None) -> str:
    rid = await agent.new_request(CITY_ITEM if city else "linshi-jiuzhu")
    await agent.do(rid, "handoff")
    await staff.do(rid, "accept")
    if city is not None:
        await staff.do(rid, "forward")
        await city.do(rid, "accept")
        await city.do(rid, "approve")
    else:
        await staff.do(rid, "approve")
    state = await agent.do(rid, "deliver")
    assert state["stage"] == "awaiting_rating"
    return rid


def _texts(stack: Stack, rid: str, kind: str) -> list[str]:
    """The texts of this kind sent to the resident, oldest first, as the gateway gets them."""
    sealer = Sealer.from_settings(stack.settings)
    with Session(stack.engine) as session:
        rows = session.exec(
            select(OutboxRow)
            .where(OutboxRow.request_id == rid, OutboxRow.recipient_role == RESIDENT_RECIPIENT)
            .where(OutboxRow.message == kind)
            .order_by(col(OutboxRow.id))
        ).all()
    opened = [sealer.open(row.sealed, outbox_context(rid)) for row in rows]
    assert all(o["phone"] == RESIDENT["phone"] for o in opened)
    return [o["text"] for o in opened]


async def _send_code(stack: Stack, agent: Caller, rid: str) -> str:
    response = await agent.post(f"/v1/requests/{rid}/rating-code")
    assert response.status_code == 202, response.text
    assert response.json()["phone"] == "138****1234"
    text = _texts(stack, rid, "rating_code")[-1]
    assert len(text) <= 70
    return "".join(ch for ch in text.split("确认码", 1)[1] if ch.isdigit())[:6]


async def _rate(agent: Caller, rid: str, **body: Any) -> httpx.Response:
    return await agent.post(f"/v1/requests/{rid}/rating", {"score": 5, **body})


async def _confirmed(agent: Caller, rid: str, code: str) -> None:
    response = await _rate(agent, rid, confirmation_code=code)
    assert response.status_code == 200, response.text
    assert response.json()["rating"]["channel"] == "sms_code"


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_a_rating_with_the_code_is_recorded_as_the_residents(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    rid = await _delivered(agent, staff)
    code = await _send_code(stack, agent, rid)
    with Session(stack.engine) as session:
        row = session.get(RatingCodeRow, rid)
    assert row is not None and code not in row.code_hash  # kept as a keyed hash only
    response = await _rate(agent, rid, confirmation_code=code, tiers={"village": 5})
    assert response.status_code == 200, response.text
    rating = response.json()["rating"]
    assert (rating["channel"], rating["tiers"]) == ("sms_code", {"village": 5})
    # Used: it confirms nothing more.
    with Session(stack.engine) as session:
        row = session.get(RatingCodeRow, rid)
    assert row is not None and row.used_at is not None


async def test_a_rating_without_a_code_is_unconfirmed(agent: Caller, staff: Caller) -> None:
    rid = await _delivered(agent, staff)
    response = await _rate(agent, rid, channel="sms_code")  # the body never says the channel
    assert _problem(response, 422)["errors"][0]["field"] == "channel"
    response = await _rate(agent, rid)
    assert response.status_code == 200, response.text
    assert response.json()["rating"]["channel"] == "agent_unconfirmed"


async def test_a_wrong_code_rates_nothing_and_counts_a_try(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    rid = await _delivered(agent, staff)
    code = await _send_code(stack, agent, rid)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = _problem(await _rate(agent, rid, confirmation_code=wrong), 422)
    assert body["errors"][0]["field"] == "confirmation_code"
    assert "4 tries left" in body["detail"]
    state = (await agent.get(f"/v1/requests/{rid}")).json()
    assert (state["stage"], state["rating"]) == ("awaiting_rating", None)
    await _confirmed(agent, rid, code)


async def test_too_many_wrong_codes_kill_the_code(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    rid = await _delivered(agent, staff)
    code = await _send_code(stack, agent, rid)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    for _ in range(stack.settings.rating_code_attempts - 1):
        _problem(await _rate(agent, rid, confirmation_code=wrong), 422)
    _problem(await _rate(agent, rid, confirmation_code=wrong), 429)
    # Dead: even the right code no longer works.
    body = _problem(await _rate(agent, rid, confirmation_code=code), 429)
    assert body["errors"][0]["field"] == "confirmation_code"
    # A new code replaces it, with its tries back.
    fresh = await _send_code(stack, agent, rid)
    await _confirmed(agent, rid, fresh)


async def test_an_expired_code_or_a_replaced_one_is_refused(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    rid = await _delivered(agent, staff)
    first = await _send_code(stack, agent, rid)
    second = await _send_code(stack, agent, rid)
    if first != second:
        _problem(await _rate(agent, rid, confirmation_code=first), 422)
    # The code's time runs out (its row says when; the clock is the database's).
    with Session(stack.engine) as session:
        row = session.get(RatingCodeRow, rid)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    body = _problem(await _rate(agent, rid, confirmation_code=second), 422)
    assert "expired" in body["detail"]


async def test_a_used_code_is_not_used_again(stack: Stack, agent: Caller, staff: Caller) -> None:
    rid = await _delivered(agent, staff)
    code = await _send_code(stack, agent, rid)
    response = await _rate(agent, rid, confirmation_code=code, score=1)
    assert response.status_code == 200 and response.json()["stage"] == "rectification"
    await staff.do(rid, "callback", note="已回访", reached=True)
    await staff.do(rid, "rectify", note="已整改", outcome="fixed")
    # The fix is rated later: the code that rated the service confirms nothing more.
    body = _problem(await _rate(agent, rid, confirmation_code=code), 422)
    assert "used" in body["detail"]


async def test_a_code_refused_by_the_workflow_stays_unused(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    rid = await _delivered(agent, staff)
    code = await _send_code(stack, agent, rid)
    # A tier that never saw the request: the workflow refuses the rating, the code stays good.
    body = _problem(await _rate(agent, rid, confirmation_code=code, tiers={"city": 5}), 422)
    assert body["errors"][0]["field"] == "tiers"
    await _confirmed(agent, rid, code)


async def test_no_code_is_sent_while_no_rating_is_open(agent: Caller, staff: Caller) -> None:
    rid = await agent.new_request()
    body = _problem(await agent.post(f"/v1/requests/{rid}/rating-code"), 409)
    assert "handoff" in body["allowed_actions"]
    _problem(await staff.post(f"/v1/requests/{rid}/rating-code"), 403)


async def test_tiers_are_checked(agent: Caller, staff: Caller, city_staff: Caller) -> None:
    rid = await _delivered(agent, staff, city_staff)
    for tiers in ({"county": 3}, {"village": 0}, {"township": 6}):
        body = _problem(await _rate(agent, rid, tiers=tiers), 422)
        assert body["errors"], body
    response = await _rate(agent, rid, score=3, tiers={"township": 2, "city": 4})
    assert response.status_code == 200, response.text
    state = response.json()
    assert (state["stage"], state["responsible_office"]) == ("rectification", staff.office)


async def test_a_rating_link_rates_once_as_link(stack: Stack, agent: Caller, staff: Caller) -> None:
    rid = await _delivered(agent, staff)
    texts = _texts(stack, rid, "rating_link")
    assert len(texts) == 1 and "/pj/" in texts[0] and len(texts[0]) <= 70
    link = (await agent.post(f"/v1/requests/{rid}/rating-link")).json()["token"]
    resident = stack.anonymous(link)
    body = _problem(await _rate(resident, rid, confirmation_code="123456"), 422)
    assert body["errors"][0]["field"] == "confirmation_code"
    response = await _rate(resident, rid, score=1)
    assert response.status_code == 200, response.text
    assert response.json()["rating"]["channel"] == "link"
    await staff.do(rid, "callback", note="已回访", reached=True)
    await staff.do(rid, "rectify", note="已整改", outcome="fixed")
    # The same link does not rate the fix: one link, one rating.
    _problem(await _rate(resident, rid, score=5), 409)
