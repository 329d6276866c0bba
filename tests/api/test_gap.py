"""Accept with a gap (容缺受理) through the API: the 422s of a material off the item's gap list, a
missing commitment and a due date after the promised deadline; the 409s of an item without a gap
list, of approving while the gap is open and of supplying a gap that is not open; ``supply_gap``
by the village agent allows the decision again."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.conftest import Caller
from tests.api.test_validation import fields

GAP_MATERIAL = "遭遇困难情况证明"  # on the gap list of the township item (linshi-jiuzhu)
COMMITMENT = "承诺书：三个工作日内补交遭遇困难情况证明"


def local_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def gap(due: date | None = None, **fields: Any) -> dict[str, Any]:
    due = due or local_today() + timedelta(days=1)
    return {
        "missing_materials": [GAP_MATERIAL],
        "due": due.isoformat(),
        "commitment": COMMITMENT,
        **fields,
    }


def conflict(response: Any) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def test_accept_with_gap_checks_the_gap_list_commitment_and_due_date(
    agent: Caller, staff: Caller
) -> None:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    response = await staff.act(rid, "accept_with_gap", **gap(missing_materials=["户口簿"]))
    assert fields(response) == ["missing_materials"]
    assert "户口簿" in response.json()["errors"][0]["message"]
    no_commitment = gap()
    del no_commitment["commitment"]
    assert fields(await staff.act(rid, "accept_with_gap", **no_commitment)) == ["commitment"]
    assert fields(await staff.act(rid, "accept_with_gap", **gap(commitment_by="agent"))) == [
        "authorisation"
    ]
    assert fields(await staff.act(rid, "accept_with_gap", **gap(commitment_by="mayor"))) == [
        "commitment_by"
    ]
    # Ten working days are at least two weeks: sixty days ahead is after the promised deadline.
    response = await staff.act(rid, "accept_with_gap", **gap(local_today() + timedelta(days=60)))
    assert fields(response) == ["due"]
    latest = date.fromisoformat(response.json()["errors"][0]["latest"])
    assert local_today() + timedelta(days=13) <= latest < local_today() + timedelta(days=60)
    assert latest.isoformat() in response.json()["detail"]
    # Nothing was written by the refusals.
    state = (await agent.get(f"/v1/requests/{rid}")).json()
    assert [h["action"] for h in state["history"]] == ["submit", "handoff"]
    assert state["gap"] is None and state["accepted_at"] is None
    state = await staff.do(
        rid, "accept_with_gap", **gap(latest, commitment_by="agent", authorisation="授权委托书")
    )
    assert state["gap"]["status"] == "open" and state["gap"]["due"] == latest.isoformat()
    assert (state["gap"]["commitment_by"], state["gap"]["authorisation"]) == (
        "agent",
        "授权委托书",
    )


async def test_an_item_without_a_gap_list_is_409(agent: Caller, staff: Caller) -> None:
    rid = await agent.new_request("tekun")
    await agent.do(rid, "handoff")
    body = conflict(await staff.act(rid, "accept_with_gap", **gap(missing_materials=["户口簿"])))
    assert "gap list is empty" in body["detail"]
    assert "accept_with_gap" not in body["allowed_actions"]


async def test_approve_waits_for_supply_gap(agent: Caller, staff: Caller) -> None:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    body = conflict(await agent.act(rid, "supply_gap"))  # no gap yet
    assert body["allowed_actions"] == ["withdraw"]
    state = await staff.do(rid, "accept_with_gap", **gap())
    assert state["gap_materials"] == [GAP_MATERIAL]
    assert "approve" not in state["allowed_actions"]
    body = conflict(await staff.act(rid, "approve"))
    assert "the gap materials have not been supplied" in body["detail"]
    assert "deny" in body["allowed_actions"] and "approve" not in body["allowed_actions"]
    assert (await staff.act(rid, "supply_gap")).status_code == 403  # the agent's action
    state = (await agent.get(f"/v1/requests/{rid}")).json()
    assert "supply_gap" in state["allowed_actions"]
    listed = (await agent.get("/v1/requests")).json()["items"]
    assert [r["gap_due"] for r in listed if r["id"] == rid] == [state["gap"]["due"]]
    state = await agent.do(rid, "supply_gap")
    assert state["gap"]["status"] == "supplied" and state["gap"]["supplied_at"] is not None
    assert state["missing_materials"] == []
    assert all(c["name"] != "gap" for c in state["clocks"])
    conflict(await agent.act(rid, "supply_gap"))  # supplied once
    listed = (await agent.get("/v1/requests")).json()["items"]
    assert [r["gap_due"] for r in listed if r["id"] == rid] == [None]
    state = await staff.do(rid, "approve")
    assert (state["stage"], state["decision"]) == ("result_delivery", "approved")
