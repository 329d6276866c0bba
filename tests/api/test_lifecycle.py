"""Whole lifecycles through HTTP: a township item and a city item, with the detours a real case
takes (supplementary materials, a stop-the-clock pause, a bad rating and its rectification)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from daiban.core.sealed import Sealer
from daiban.store import residents
from models.db import RequestRow
from tests.api.conftest import CITY, CITY_ITEM, RESIDENT, TOWNSHIP, VILLAGE, Caller, Stack


def actions(state: dict[str, object]) -> list[str]:
    history = state["history"]
    assert isinstance(history, list)
    return [entry["action"] for entry in history]


async def test_township_item_with_supplement_pause_and_rectification(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    response = await agent.submit(note="申请临时救助")
    assert response.status_code == 201, response.text
    state = response.json()
    rid = state["id"]
    assert response.headers["Location"] == f"/v1/requests/{rid}"
    assert (state["stage"], state["status"], state["village"]) == (
        "village_intake", "open", VILLAGE,
    )  # fmt: skip
    assert state["township"] == TOWNSHIP and state["city"] == CITY
    assert state["deadline"].endswith("+08:00") and state["expected_at"]
    assert "handoff" in state["allowed_actions"]

    state = await agent.do(rid, "handoff")
    assert (state["stage"], state["responsible_office"]) == ("township_review", TOWNSHIP)
    state = await staff.do(rid, "request_supplement", missing_materials=["收入证明"])
    assert state["stage"] == "awaiting_supplement"
    assert state["missing_materials"] == ["收入证明"]
    state = await agent.do(rid, "supplement", note="已补齐")
    assert (state["stage"], state["missing_materials"]) == ("township_review", [])
    state = await staff.do(rid, "accept")
    assert state["accepted_at"] is not None
    state = await staff.do(rid, "pause", reason="public_notice", note="公示七天", expected_days=7)
    assert state["paused"]["reason"] == "public_notice"
    assert state["allowed_actions"] == ["resume"]
    state = await staff.do(rid, "resume")
    assert state["paused"] is None
    state = await staff.do(rid, "approve", note="符合条件")
    assert (state["stage"], state["decision"]) == ("result_delivery", "approved")
    state = await agent.do(rid, "deliver")
    assert state["stage"] == "awaiting_rating"

    response = await agent.post(f"/v1/requests/{rid}/rating", {"score": 1, "comment": "太慢"})
    assert response.status_code == 200, response.text
    state = response.json()
    assert (state["stage"], state["responsible_office"]) == ("rectification", TOWNSHIP)
    assert state["rating"]["score"] == 1
    state = await staff.do(rid, "callback", note="已回访", reached=True)
    assert [c["reached"] for c in state["rectification"]["callbacks"]] == [True]
    state = await staff.do(rid, "rectify", note="已说明", outcome="explained")
    assert (state["stage"], state["status"], state["rectified"]) == ("completed", "closed", True)
    assert state["rectification"]["outcome"] == "explained"
    assert actions(state) == [
        "submit", "handoff", "request_supplement", "supplement", "accept", "pause", "resume",
        "approve", "deliver", "rate", "callback", "rectify",
    ]  # fmt: skip
    history = {entry["action"]: entry for entry in state["history"]}
    assert (history["handoff"]["from"], history["handoff"]["to"]) == (
        "village_intake", "township_review",
    )  # fmt: skip

    # The read model caught up: the same request through the list.
    listed = (await agent.get("/v1/requests", stage="completed")).json()["items"]
    assert rid in [item["id"] for item in listed]


async def test_city_item_forwarded_and_decided_by_the_city(
    agent: Caller, staff: Caller, city_staff: Caller
) -> None:
    rid = await agent.new_request(CITY_ITEM)
    await agent.do(rid, "handoff")
    state = await staff.do(rid, "accept")
    assert "forward" in state["allowed_actions"] and "approve" not in state["allowed_actions"]
    # The township's step clock and its ladder are visible: reminder, yellow, red, statutory.
    [step] = [c for c in state["clocks"] if c["name"] == "step"]
    assert step["deadline"] == state["deadline"] and step["office"] == state["township"]
    assert step["statutory"] > step["deadline"] and step["fired"] == []
    state = await staff.do(rid, "forward", note="初审通过")
    assert (state["stage"], state["responsible_office"]) == ("city_review", CITY)
    state = await city_staff.do(rid, "accept")
    state = await city_staff.do(rid, "deny", note="家庭收入超过标准")
    assert (state["stage"], state["decision"]) == ("result_delivery", "denied")
    await agent.do(rid, "deliver")
    response = await agent.post(f"/v1/requests/{rid}/rating", {"score": 4})
    assert response.status_code == 200, response.text
    state = response.json()
    assert (state["stage"], state["status"]) == ("completed", "closed")
    assert actions(state) == [
        "submit", "handoff", "accept", "forward", "accept", "deny", "deliver", "rate",
    ]  # fmt: skip
    # The workflow has ended; the request is still readable (query, or the read model).
    response = await agent.get(f"/v1/requests/{rid}")
    assert response.status_code == 200 and response.json()["stage"] == "completed"
    # And an action on it is a 409 with nothing allowed.
    response = await agent.act(rid, "withdraw")
    assert response.status_code == 409
    assert response.json()["allowed_actions"] == []


async def test_a_request_past_retention_is_read_from_the_read_model(
    stack: Stack, agent: Caller
) -> None:
    """Temporal no longer has the workflow (as after the retention period): the read model's
    last state answers, its resident opened for the village's agent, and no action is allowed."""
    rid = await agent.new_request()
    gone = uuid.uuid4().hex
    sealer = Sealer.from_settings(stack.settings)
    with Session(stack.engine) as session:
        row = session.get(RequestRow, rid)
        assert row is not None
        copy = RequestRow.model_validate(row.model_dump() | {"id": gone, "number": None})
        # The resident is sealed for its own request: the copy is sealed again for its new id.
        copy.state = residents.seal({**residents.opened(row.state, sealer), "id": gone}, sealer)
        session.add(copy)
        session.commit()
    response = await agent.get(f"/v1/requests/{gone}")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["stage"]) == (gone, "village_intake")
    assert response.json()["resident"] == RESIDENT
    response = await agent.act(gone, "handoff")
    assert (response.status_code, response.json()["allowed_actions"]) == (409, [])
