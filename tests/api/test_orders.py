"""Supervision orders (督办单) over HTTP: issue_order, reply_order and review_order through the
actions endpoint, and GET /v1/supervision/orders — with their 401, 403, 404, 409 and 422 cases.
Real time on the dev server: the orders here come from supervisors; a yellow card's order and the
red card of an unanswered one are timed in tests/workflows/test_county_ladder.py."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import (
    CITY,
    OTHER_TOWNSHIP,
    SECOND_CITY,
    TOWNSHIP,
    Caller,
    Stack,
)


async def accepted(agent: Caller, staff: Caller) -> str:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    await staff.do(rid, "accept")
    return rid


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def listed(caller: Caller, rid: str, **params: Any) -> list[dict[str, Any]]:
    response = await caller.get("/v1/supervision/orders", **params)
    assert response.status_code == 200, response.text
    return [o for o in response.json()["items"] if o["request_id"] == rid]


async def test_an_order_issued_answered_and_accepted(
    agent: Caller, staff: Caller, supervisor: Caller
) -> None:
    rid = await accepted(agent, staff)
    state = await supervisor.do(rid, "issue_order", note="群众来电反映进度慢", days=3)
    (order,) = state["orders"]
    assert (order["issuing_office"], order["office"], order["status"]) == (CITY, TOWNSHIP, "open")
    number = order["number"]
    assert number.endswith("号") and "督〔" in number
    assert "reply_order" in (await staff.get(f"/v1/requests/{rid}")).json()["allowed_actions"]

    state = await staff.do(rid, "reply_order", order=number, note="已入户核查")
    assert state["orders"][0]["status"] == "replied"
    state = await supervisor.do(rid, "review_order", order=number, accepted=True)
    assert (state["orders"][0]["status"], state["orders"][0]["outcome"]) == ("closed", "accepted")
    (row,) = await listed(supervisor, rid)
    assert (row["number"], row["status"], row["reply"]) == (number, "closed", "已入户核查")
    assert [e["action"] for e in state["history"]][-3:] == [
        "issue_order",
        "reply_order",
        "review_order",
    ]


async def test_order_actions_refused_with_their_statuses(
    stack: Stack, agent: Caller, staff: Caller, supervisor: Caller
) -> None:
    rid = await accepted(agent, staff)
    # 403: a role that may never issue an order.
    problem(await staff.act(rid, "issue_order", note="x"), 403)
    problem(await agent.act(rid, "review_order", order="x", accepted=True), 403)
    # 422: no reason; a response limit below one day; an unknown order.
    body = problem(await supervisor.act(rid, "issue_order"), 422)
    assert any(e["field"] == "note" for e in body["errors"])
    problem(await supervisor.act(rid, "issue_order", note="x", days=0), 422)
    state = await supervisor.do(rid, "issue_order", note="请说明进度")
    number = state["orders"][0]["number"]
    body = problem(await staff.act(rid, "reply_order", order="无此号", note="x"), 422)
    assert any(e["field"] == "order" for e in body["errors"])
    problem(await staff.act(rid, "reply_order", order=number), 422)  # no reply text
    # 409: a review before any reply, with the actions allowed now.
    body = problem(await supervisor.act(rid, "review_order", order=number, accepted=True), 409)
    assert "issue_order" in body["allowed_actions"]
    # 404: a supervisor of another city does not learn the request exists.
    other = stack.caller("supervisor", SECOND_CITY)
    problem(await other.act(rid, "issue_order", note="x"), 404)
    # A returned reply reopens the order with a new response deadline.
    await staff.do(rid, "reply_order", order=number, note="正在办理")
    state = await supervisor.do(rid, "review_order", order=number, accepted=False, days=2)
    order = state["orders"][0]
    assert (order["status"], order["returned"]) == ("open", 1)
    # 409: the issuing office only reviews a replied order; the order is open again.
    problem(await supervisor.act(rid, "review_order", order=number, accepted=True), 409)


async def test_the_list_is_scoped_and_oldest_deadline_first(
    stack: Stack, agent: Caller, staff: Caller, supervisor: Caller
) -> None:
    rid = await accepted(agent, staff)
    await supervisor.do(rid, "issue_order", note="三日内答复", days=3)
    await supervisor.do(rid, "issue_order", note="一日内答复", days=1)
    rows = await listed(supervisor, rid, status="open")
    assert [r["reason"] for r in rows] == ["一日内答复", "三日内答复"]
    assert rows[0]["respond_by"] < rows[1]["respond_by"]
    assert [r["reason"] for r in await listed(staff, rid)] == ["一日内答复", "三日内答复"]
    assert await listed(staff, rid, overdue=True) == []
    assert await listed(stack.caller("township_staff", OTHER_TOWNSHIP), rid) == []
    assert await listed(agent, rid) == []  # addressed to the township, not the village
    assert await listed(stack.caller("supervisor", SECOND_CITY), rid) == []
    # Pages: one order a page, in the same order.
    first = await supervisor.get("/v1/supervision/orders", limit=1, township=TOWNSHIP)
    assert first.status_code == 200 and first.json()["next_cursor"]
    # 401, 403, 422.
    problem(await stack.anonymous().get("/v1/supervision/orders"), 401)
    link = await agent.post(f"/v1/requests/{rid}/rating-link")
    assert link.status_code == 201, link.text
    rater = stack.anonymous(link.json()["token"])
    problem(await rater.get("/v1/supervision/orders"), 403)
    problem(await supervisor.get("/v1/supervision/orders", status="lost"), 422)
    problem(await supervisor.get("/v1/supervision/orders", cursor="!!"), 422)
