"""Lists, the work queue, supervision and statistics: all from the read model."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlmodel import Session, col, select

from api import create_app
from daiban.domain.offices import demo_tree
from models.db import LedgerRow
from tests.api.conftest import CITY, CITY_ITEM, MASKED, RESIDENT, Caller, Stack, serve

QUIET_TOWNSHIP = "370285007"  # used by no other test module
QUIET_VILLAGE = "370285007001"


async def test_list_pages_newest_first(stack: Stack) -> None:
    agent = stack.caller("agent", "370285008001")
    made = [await agent.new_request() for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = (await agent.get("/v1/requests", limit=2, cursor=cursor)).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:5] == list(reversed(made))  # newest first
    assert len(seen) == len(set(seen))
    item = (await agent.get("/v1/requests", limit=1)).json()["items"][0]
    assert item["resident"] == MASKED and item["created_at"].endswith("+08:00")


async def test_list_filters(stack: Stack, staff: Caller, agent: Caller) -> None:
    city_request = await agent.new_request(CITY_ITEM)
    other = await agent.new_request()
    await agent.do(other, "handoff")

    async def ids(**params: object) -> set[str]:
        page = (await staff.get("/v1/requests", limit=200, **params)).json()
        return {item["id"] for item in page["items"]}

    assert city_request in await ids(item=CITY_ITEM)
    assert other not in await ids(item=CITY_ITEM)
    assert other in await ids(stage="township_review", office="370285004")
    assert other not in await ids(stage="village_intake")
    assert other in await ids(overdue="none") and other not in await ids(overdue="any")
    today = date.today()
    assert other in await ids(created_from=(today - timedelta(days=1)).isoformat())
    assert not await ids(created_from=(today + timedelta(days=2)).isoformat())
    assert other in await ids(township="370285004")
    assert not await ids(township="370285005")  # outside the staff's scope: nothing


async def test_queue_earliest_deadline_first(stack: Stack) -> None:
    agent = stack.caller("agent", "370285009001")
    staff = stack.caller("township_staff", "370285009")
    first, second = await agent.new_request(), await agent.new_request("yanglao-dengji")
    await agent.do(first, "handoff")
    await agent.do(second, "handoff")
    await staff.do(second, "accept")  # on the spot: due today, before first's acceptance window
    items = (await staff.get("/v1/queue")).json()["items"]
    assert [i["id"] for i in items] == [second, first]
    assert items[0]["deadline"] <= items[1]["deadline"]
    page = (await staff.get("/v1/queue", limit=1)).json()
    assert [i["id"] for i in page["items"]] == [second]
    page = (await staff.get("/v1/queue", limit=1, cursor=page["next_cursor"])).json()
    assert ([i["id"] for i in page["items"]], page["next_cursor"]) == ([first], None)


async def test_supervision_events_and_verify(stack: Stack, supervisor: Caller) -> None:
    agent = stack.caller("agent", "370285010001")
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    township_supervisor = stack.caller("supervisor", "370285010")
    events = (await township_supervisor.get("/v1/supervision/events", request=rid)).json()
    assert [e["action"] for e in events["items"]] == ["handoff", "submit"]  # newest first
    assert all(e["request_id"] == rid and len(e["hash"]) == 64 for e in events["items"])
    page = (await supervisor.get("/v1/supervision/events", request=rid, limit=1)).json()
    assert page["next_cursor"] is not None
    page = (
        await supervisor.get("/v1/supervision/events", request=rid, cursor=page["next_cursor"])
    ).json()
    assert [e["action"] for e in page["items"]] == ["submit"]

    verify = (await township_supervisor.get("/v1/supervision/verify", request=rid)).json()
    assert verify == {"ok": True, "checked": 2, "broken": []}
    whole = (await township_supervisor.get("/v1/supervision/verify")).json()
    assert whole["ok"] and whole["checked"] >= 2

    # Tamper with one row: verify names it; then put it back.
    with Session(stack.engine) as session:
        row = session.exec(select(LedgerRow).where(col(LedgerRow.request_id) == rid)).first()
        assert row is not None
        original, row.note = row.note, "edited afterwards"
        session.add(row)
        session.commit()
        try:
            verify = (await supervisor.get("/v1/supervision/verify", request=rid)).json()
            assert verify == {"ok": False, "checked": 2, "broken": [row.id]}
            whole = (await township_supervisor.get("/v1/supervision/verify")).json()
            assert whole["broken"] == [row.id]
        finally:
            row.note = original
            session.add(row)
            session.commit()


async def test_stats_per_township(stack: Stack) -> None:
    agent = stack.caller("agent", QUIET_VILLAGE)
    staff = stack.caller("township_staff", QUIET_TOWNSHIP)
    # Two ratings by the residents' own act (their rating links), one the agent entered without
    # the resident's code: kept, counted apart, not in the ratings or the rates.
    rated: dict[int, str] = {}
    for score, own in ((5, True), (1, True), (4, False)):
        rid = await agent.new_request()
        await agent.do(rid, "handoff")
        await staff.do(rid, "accept")
        await staff.do(rid, "approve")
        await agent.do(rid, "deliver")
        rater = agent
        if own:
            link = (await agent.post(f"/v1/requests/{rid}/rating-link")).json()["token"]
            rater = stack.anonymous(link)
        response = await rater.post(f"/v1/requests/{rid}/rating", {"score": score})
        assert response.status_code == 200, response.text
        rated[score] = rid
    await staff.do(rated[1], "callback", note="已回访", reached=True)
    await staff.do(rated[1], "rectify", note="已整改", outcome="fixed")
    still_open = await agent.new_request()
    supervisor = stack.caller("supervisor", QUIET_TOWNSHIP)
    await supervisor.do(still_open, "issue_order", note="请尽快递交乡镇")

    (row,) = (await supervisor.get("/v1/stats")).json()["offices"]
    assert row == {
        "office": QUIET_TOWNSHIP,
        "name": demo_tree().get(QUIET_TOWNSHIP).name,
        "total": 4,
        "completed": 3,
        "on_time_rate": 1.0,
        "avg_working_days": row["avg_working_days"],
        "reminder": 0,
        "yellow": 0,
        "red": 0,
        "ratings": {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1},
        "satisfaction_rate": 0.5,
        "rectified_rate": 1.0,
        "orders_issued": 1,
        "orders_overdue": 0,
        "bad_rate": 0.5,
        "callback_rate": 1.0,
        "appeals_upheld": 0,
        "agent_unconfirmed": 1,
    }
    assert row["avg_working_days"] is not None and row["avg_working_days"] <= 1
    city = (await stack.caller("supervisor", CITY).get("/v1/stats", township=QUIET_TOWNSHIP)).json()
    assert city["offices"] == [row]
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert (await supervisor.get("/v1/stats", **{"from": tomorrow})).json() == {"offices": []}


async def test_catalog_and_offices(agent: Caller) -> None:
    items = (await agent.get("/v1/catalog")).json()["items"]
    dibao = next(i for i in items if i["code"] == "dibao")
    assert dibao["deciding_tier"] == "city" and dibao["limits"]["promised"]["limit"] == 25
    assert dibao["materials"]
    townships = (await agent.get("/v1/offices", tier="township", parent=CITY)).json()["items"]
    assert len(townships) == 11 and all(o["parent"] == CITY for o in townships)
    cities = (await agent.get("/v1/offices", tier="city")).json()["items"]
    assert [o["code"] for o in cities] == ["370283000", CITY]  # the deployment serves two
    centers = (await agent.get("/v1/offices", tier="community")).json()["items"]
    assert len([o for o in centers if o["code"].startswith("370285")]) == 119
    mine = (await agent.get("/v1/offices", parent=QUIET_TOWNSHIP)).json()["items"]
    assert mine and all(o["tier"] == "community" for o in mine)
    villages = (await agent.get("/v1/offices", parent=mine[0]["code"])).json()["items"]
    assert villages and all(o["tier"] == "village" for o in villages)


async def test_rating_link(stack: Stack, agent: Caller) -> None:
    staff = stack.caller("township_staff", "370285004")
    rid = await agent.new_request("yanglao-dengji")
    other = await agent.new_request()
    for action, caller in (("handoff", agent), ("accept", staff), ("approve", staff)):
        await caller.do(rid, action)
    await agent.do(rid, "deliver")
    response = await agent.post(f"/v1/requests/{rid}/rating-link")
    assert response.status_code == 201
    link = stack.anonymous(response.json()["token"])
    assert (await link.get("/v1/requests")).status_code == 403  # a link can only rate
    assert (await link.act(rid, "withdraw")).status_code == 403
    assert (await link.post(f"/v1/requests/{other}/rating", {"score": 5})).status_code == 404
    response = await link.post(f"/v1/requests/{rid}/rating", {"score": 5, "comment": "好"})
    assert response.status_code == 200
    state = response.json()
    assert state["stage"] == "completed" and state["allowed_actions"] == []
    assert state["resident"] == MASKED
    seen_by_staff = (await staff.get(f"/v1/requests/{rid}")).json()
    assert seen_by_staff["history"][-1]["actor"] == "resident"  # the rater is not shown


async def test_submissions_are_rate_limited(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"submit_rate_per_minute": 2})
    app = create_app(settings, client=stack.client, engine=stack.engine)
    token = stack.token("agent", QUIET_VILLAGE, "hasty-agent")
    headers = {"Authorization": f"Bearer {token}"}
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=headers) as http:
        # Valid bodies of an unknown item: each counts, none starts a workflow.
        body = {"item": "no-such-item", "resident": RESIDENT}
        statuses = [(await http.post("/v1/requests", json=body)).status_code for _ in range(2)]
        assert statuses == [422, 422]
        response = await http.post("/v1/requests", json=body)
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["content-type"] == "application/problem+json"
