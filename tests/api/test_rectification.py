"""The rectification actions over HTTP: a callback and a settlement with their required fields
(422 naming the field), a settlement before the callback and an appeal reviewed by the wrong tier
(409 with the reason and what is allowed), and the callback rate and upheld appeals in the
supervisors' and the public statistics."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.conftest import CITY, Caller, Stack

# Townships of their own, so that their figures count only what each test does.
TOWN, VILLAGE = "370285006", "370285006001"
COUNTED_TOWN, COUNTED_VILLAGE = "370285011", "370285011001"


def today() -> datetime:
    return datetime.now(ZoneInfo("Asia/Shanghai"))


def refused(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


async def rated_bad(stack: Stack, agent: Caller, staff: Caller) -> str:
    """A request rated 1 by the resident through the texted rating link (counted in the rates)."""
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    await staff.do(rid, "accept")
    await staff.do(rid, "approve")
    await agent.do(rid, "deliver")
    link = (await agent.post(f"/v1/requests/{rid}/rating-link")).json()["token"]
    rated = await stack.anonymous(link).post(
        f"/v1/requests/{rid}/rating", {"score": 1, "comment": "态度差"}
    )
    assert rated.status_code == 200, rated.text
    state = rated.json()
    assert (state["stage"], state["responsible_office"]) == ("rectification", staff.office)
    assert state["rectification"]["appeal_reviewer"] == CITY
    return rid


async def test_callback_and_rectify_fields(stack: Stack) -> None:
    agent, staff = stack.caller("agent", VILLAGE), stack.caller("township_staff", TOWN)
    rid = await rated_bad(stack, agent, staff)
    assert refused(await staff.act(rid, "callback", note="已联系")) == ["reached"]
    assert refused(await staff.act(rid, "callback", reached=True)) == ["note"]
    assert refused(await staff.act(rid, "callback", note="x", reached="maybe")) == ["reached"]
    assert refused(await staff.act(rid, "rectify", note="已整改")) == ["outcome"]
    assert refused(await staff.act(rid, "rectify", note="x", outcome="later")) == ["outcome"]

    # Before the callback: 409, with the reason and what may be done instead.
    response = await staff.act(rid, "rectify", note="已整改", outcome="fixed")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["allowed_actions"] == ["callback", "appeal_rating"]
    assert "call the resident back first" in body["detail"]

    state = await staff.do(rid, "callback", note="无人接听", reached=False)
    assert state["allowed_actions"] == ["callback", "rectify", "appeal_rating"]
    state = await staff.do(rid, "callback", note="已联系申请人", reached=True)
    assert "callback" not in state["allowed_actions"]

    scheduled = {"note": "需修缮", "outcome": "scheduled"}
    assert refused(await staff.act(rid, "rectify", **scheduled)) == ["due"]
    yesterday = (today() - timedelta(days=1)).date().isoformat()
    assert refused(await staff.act(rid, "rectify", due=yesterday, **scheduled)) == ["due"]
    far = (today() + timedelta(days=31)).date().isoformat()
    assert refused(await staff.act(rid, "rectify", due=far, **scheduled)) == ["due"]
    soon = (today() + timedelta(days=7)).date().isoformat()
    fixed = {"note": "已修好", "outcome": "fixed"}
    assert refused(await staff.act(rid, "rectify", due=soon, **fixed)) == ["due"]
    state = await staff.do(rid, "rectify", due=soon, **scheduled)
    assert (state["stage"], state["rectification"]["due"]) == ("rectification", soon)
    assert refused(await staff.act(rid, "rectify", note="说明", outcome="explained")) == ["outcome"]
    state = await staff.do(rid, "rectify", **fixed)
    assert (state["stage"], state["rectified"]) == ("completed", True)
    # The checks wrote nothing: only what succeeded is in the history.
    assert [h["action"] for h in state["history"]][-5:] == [
        "rate", "callback", "callback", "rectify", "rectify",
    ]  # fmt: skip


async def test_appeal_reviewed_by_the_tier_above_and_the_statistics(stack: Stack) -> None:
    agent = stack.caller("agent", COUNTED_VILLAGE)
    staff = stack.caller("township_staff", COUNTED_TOWN)
    answered = await rated_bad(stack, agent, staff)
    await staff.do(answered, "callback", note="已联系", reached=True)
    await staff.do(answered, "rectify", note="已说明", outcome="explained")
    rid = await rated_bad(stack, agent, staff)
    assert refused(await staff.act(rid, "appeal_rating")) == ["note"]
    await staff.do(rid, "appeal_rating", note="评价人误评")
    township_supervisor = stack.caller("supervisor", COUNTED_TOWN)
    response = await township_supervisor.act(rid, "review_appeal", upheld=True)
    assert response.status_code == 409
    assert "review_appeal" not in response.json()["allowed_actions"]
    city_supervisor = stack.caller("supervisor", CITY)
    assert refused(await city_supervisor.act(rid, "review_appeal")) == ["upheld"]
    state = await city_supervisor.do(rid, "review_appeal", upheld=True, note="属误评")
    assert (state["stage"], state["rating"]["appeal"]) == ("completed", "upheld")

    # Upheld: out of the rates, still counted as given; the other one was called back in time.
    (row,) = (await township_supervisor.get("/v1/stats")).json()["offices"]
    assert row["office"] == COUNTED_TOWN and row["appeals_upheld"] == 1
    assert row["ratings"]["1"] == 2
    assert (row["callback_rate"], row["bad_rate"], row["satisfaction_rate"]) == (1.0, 1.0, 0.0)
    month = today().strftime("%Y-%m")
    public = (await stack.anonymous().get("/v1/public/stats", month=month)).json()
    ours = next(o for o in public["offices"] if o["office"] == COUNTED_TOWN)
    assert (ours["rated"], ours["bad"], ours["appeals_upheld"]) == (1, 1, 1)
    assert (ours["callback_rate"], ours["bad_rate"]) == (1.0, 1.0)
    sheet = await stack.anonymous().get("/v1/public/stats.csv", month=month)
    rows = csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig")))
    mine = next(r for r in rows if r["office"] == COUNTED_TOWN)
    assert (mine["callback_rate"], mine["bad"], mine["appeals_upheld"]) == ("1.0", "1", "1")
