"""Scope: every role against requests in and out of its scope, on every endpoint, in a deployment
of two cities (nothing crosses from one to the other); masking of the resident's data; and no
personal data in the logs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import (
    CITY,
    CITY_ITEM,
    FAR_VILLAGE,
    MASKED,
    NEIGHBOUR,
    OTHER_TOWNSHIP,
    RESIDENT,
    SECOND_CENTER,
    SECOND_CITY,
    SECOND_TOWNSHIP,
    SECOND_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    Caller,
    Stack,
)


@dataclass
class World:
    """A: township item of VILLAGE at the township; B: city item of VILLAGE at the city;
    C: item of FAR_VILLAGE (another township) still at its village; D: city item of the second
    city's SECOND_VILLAGE, forwarded to the second city."""

    a: str
    b: str
    c: str
    d: str

    def ids(self) -> dict[str, str]:
        return {"A": self.a, "B": self.b, "C": self.c, "D": self.d}


@pytest.fixture(scope="module")
async def world(stack: Stack, agent: Caller, staff: Caller) -> World:
    a = await agent.new_request()
    await agent.do(a, "handoff")
    b = await agent.new_request(CITY_ITEM)
    await agent.do(b, "handoff")
    await staff.do(b, "accept")
    await staff.do(b, "forward")
    c = await stack.caller("agent", FAR_VILLAGE).new_request()
    d = await stack.caller("agent", SECOND_VILLAGE).new_request(CITY_ITEM)
    await stack.caller("agent", SECOND_VILLAGE).do(d, "handoff")
    # The second village's township: up past its community service center.
    second_staff = stack.caller("township_staff", SECOND_TOWNSHIP)
    await second_staff.do(d, "accept")
    await second_staff.do(d, "forward")
    return World(a, b, c, d)


# role, office, the requests in scope, and an action the role may take (to probe /actions).
ROLES: list[tuple[str, str, set[str], str, dict[str, Any]]] = [
    ("agent", VILLAGE, {"A", "B"}, "deliver", {}),
    ("agent", NEIGHBOUR, set(), "deliver", {}),
    ("agent", FAR_VILLAGE, {"C"}, "deliver", {}),
    ("township_staff", TOWNSHIP, {"A", "B"}, "rectify", {"note": "n", "outcome": "fixed"}),
    ("township_staff", OTHER_TOWNSHIP, {"C"}, "rectify", {"note": "n", "outcome": "fixed"}),
    ("city_staff", CITY, {"B"}, "rectify", {"note": "n", "outcome": "fixed"}),
    ("supervisor", TOWNSHIP, {"A", "B"}, "approve_extension", {}),
    ("supervisor", OTHER_TOWNSHIP, {"C"}, "approve_extension", {}),
    ("supervisor", CITY, {"A", "B", "C"}, "approve_extension", {}),
    ("admin", CITY, {"A", "B", "C", "D"}, "", {}),
    # The second city: its people see D only, and the first city's see nothing of it.
    ("agent", SECOND_VILLAGE, {"D"}, "deliver", {}),
    ("township_staff", SECOND_TOWNSHIP, {"D"}, "rectify", {"note": "n", "outcome": "fixed"}),
    ("city_staff", SECOND_CITY, {"D"}, "rectify", {"note": "n", "outcome": "fixed"}),
    ("supervisor", SECOND_TOWNSHIP, {"D"}, "approve_extension", {}),
    ("supervisor", SECOND_CITY, {"D"}, "approve_extension", {}),
    ("admin", SECOND_CITY, {"A", "B", "C", "D"}, "", {}),
]
ROLE_IDS = [f"{role}@{office}" for role, office, *_ in ROLES]
STAFF = {"township_staff", "city_staff"}
CITIES = {CITY, SECOND_CITY}
OVERSIGHT = {"supervisor", "admin"}


def masked(resident: dict[str, str]) -> bool:
    return (
        "*" in resident["name"]
        and set(resident["id_number"][6:-4]) == {"*"}
        and resident["phone"][3:7] == "****"
    )


def reveals_nothing(response: Any) -> None:
    """An out-of-scope 404 is the bare problem: no stage, office or resident of the request."""
    assert set(response.json()) == {"type", "title", "status", "detail", "instance"}
    for secret in RESIDENT.values():
        assert secret not in response.text


@pytest.mark.parametrize(("role", "office", "scope", "action", "fields"), ROLES, ids=ROLE_IDS)
async def test_scope_matrix(
    stack: Stack,
    world: World,
    role: str,
    office: str,
    scope: set[str],
    action: str,
    fields: dict[str, Any],
) -> None:
    caller = stack.caller(role, office)
    for name, rid in world.ids().items():
        inside = name in scope
        response = await caller.get(f"/v1/requests/{rid}")
        assert response.status_code == (200 if inside else 404), (name, response.text)
        if not inside:
            assert response.json()["detail"] == "no such request"
            reveals_nothing(response)
        if action:
            response = await caller.act(rid, action, **fields)
            # In scope the action is merely not allowed now (409); outside, the request is
            # invisible (404), and nothing about it is written.
            assert response.status_code == (409 if inside else 404), (name, response.text)
        else:
            assert (await caller.act(rid, "withdraw")).status_code == 403
        response = await caller.post(f"/v1/requests/{rid}/rating", {"score": 5})
        expected_rating = (409 if inside else 404) if role == "agent" else 403
        assert response.status_code == expected_rating, (name, response.text)

        events = await caller.get("/v1/supervision/events", request=rid)
        verify = await caller.get("/v1/supervision/verify", request=rid)
        if role in OVERSIGHT:
            assert events.status_code == 200
            assert bool(events.json()["items"]) == inside
            assert verify.status_code == (200 if inside else 404)
        else:
            assert (events.status_code, verify.status_code) == (403, 403)

    listed = await caller.get("/v1/requests", limit=200)
    assert listed.status_code == 200
    items = listed.json()["items"]
    shown = {name for name, rid in world.ids().items() if rid in {i["id"] for i in items}}
    assert shown == scope
    for item in items:  # every listed request is in scope, and masked
        assert masked(item["resident"])
        if role == "agent":
            assert item["village"] == office
        if role == "township_staff" or (role == "supervisor" and office not in CITIES):
            assert item["township"] == office

    queue = await caller.get("/v1/queue")
    if role in STAFF:
        assert queue.status_code == 200
        assert {i["responsible_office"] for i in queue.json()["items"]} <= {office}
    else:
        assert queue.status_code == 403

    stats = await caller.get("/v1/stats")
    if role in OVERSIGHT:
        assert stats.status_code == 200
        offices = {row["office"] for row in stats.json()["offices"]}
        if role == "admin":
            assert {TOWNSHIP, SECOND_TOWNSHIP} <= offices
        elif office == CITY:  # every township of its city with requests, none of the other's
            assert TOWNSHIP in offices and SECOND_TOWNSHIP not in offices
        elif office == SECOND_CITY:
            assert offices == {SECOND_TOWNSHIP}
        else:
            assert offices == {office}
    else:
        assert stats.status_code == 403
    for path in ("/v1/catalog", "/v1/offices"):
        assert (await caller.get(path)).status_code == 200


async def test_the_queue_holds_what_waits_on_the_office(
    stack: Stack, world: World, staff: Caller, city_staff: Caller
) -> None:
    async def queue(caller: Caller) -> set[str]:
        return {i["id"] for i in (await caller.get("/v1/queue", limit=200)).json()["items"]}

    township_queue, city_queue = await queue(staff), await queue(city_staff)
    second_queue = await queue(stack.caller("city_staff", SECOND_CITY))
    assert world.a in township_queue and world.b not in township_queue
    assert world.b in city_queue and world.a not in city_queue
    assert world.c not in township_queue | city_queue
    assert world.d in second_queue and world.d not in city_queue
    assert second_queue == {world.d}


async def test_the_submission_records_the_township_and_city_from_the_tree(
    stack: Stack, world: World
) -> None:
    admin = stack.caller("admin", SECOND_CITY)
    (row,) = (await admin.get("/v1/requests", community=SECOND_CENTER)).json()["items"]
    assert (row["id"], row["village"], row["township"]) == (
        world.d,
        SECOND_VILLAGE,
        SECOND_TOWNSHIP,
    )
    state = (await admin.get(f"/v1/requests/{world.d}")).json()
    assert state["stage"] == "city_review" and state["responsible_office"] == SECOND_CITY


async def test_verify_and_stats_per_city_and_per_center(stack: Stack, world: World) -> None:
    first, second = stack.caller("supervisor", CITY), stack.caller("supervisor", SECOND_CITY)
    d_events = (await second.get("/v1/supervision/events", request=world.d)).json()["items"]
    everything = (await second.get("/v1/supervision/verify")).json()
    # Every chain of the second city (D's, as no other test uses that city), and no other.
    assert everything == {"ok": True, "checked": len(d_events), "broken": []}
    assert (await first.get("/v1/supervision/verify", request=world.d)).status_code == 404
    first_city = (await first.get("/v1/supervision/verify")).json()
    admin = (await stack.caller("admin", SECOND_CITY).get("/v1/supervision/verify")).json()
    # The admin checks every chain: both cities' (read last, so never fewer than their sum).
    assert admin["ok"] and admin["checked"] >= first_city["checked"] + everything["checked"]
    listed = (await first.get("/v1/supervision/events", limit=200)).json()["items"]
    assert world.d not in {e["request_id"] for e in listed}
    (center,) = (await second.get("/v1/stats", community=SECOND_CENTER)).json()["offices"]
    assert (center["office"], center["name"], center["total"]) == (
        SECOND_CENTER,
        "杭州路社区服务中心",
        1,
    )
    assert (await first.get("/v1/stats", community=SECOND_CENTER)).json() == {"offices": []}
    assert (await first.get("/v1/requests", community=SECOND_CENTER)).json()["items"] == []


async def test_masking_by_viewer(
    stack: Stack, world: World, agent: Caller, staff: Caller, city_staff: Caller, supervisor: Caller
) -> None:
    async def resident(caller: Caller, rid: str) -> dict[str, str]:
        response = await caller.get(f"/v1/requests/{rid}")
        assert response.status_code == 200
        value: dict[str, str] = response.json()["resident"]
        return value

    assert await resident(agent, world.a) == RESIDENT  # the agent of the village
    assert await resident(staff, world.a) == RESIDENT  # the township handles A now
    assert await resident(staff, world.b) == MASKED  # B has moved on to the city
    assert await resident(city_staff, world.b) == RESIDENT  # ... which handles it now
    assert await resident(supervisor, world.a) == MASKED
    assert await resident(stack.caller("admin", CITY), world.a) == MASKED
    neighbour = stack.caller("agent", NEIGHBOUR)
    assert (await neighbour.get(f"/v1/requests/{world.a}")).status_code == 404
    # Lists are masked for everyone, the village agent included.
    items = (await agent.get("/v1/requests", limit=200)).json()["items"]
    assert items and all(masked(item["resident"]) for item in items)


async def test_logs_hold_no_personal_data(
    caplog: pytest.LogCaptureFixture, agent: Caller, staff: Caller
) -> None:
    caplog.set_level(logging.DEBUG)
    rid = await agent.new_request()
    await agent.get(f"/v1/requests/{rid}")
    await agent.submit(resident={**RESIDENT, "id_number": "370285194802150023"})  # refused
    await agent.do(rid, "handoff")
    await staff.do(rid, "request_supplement", missing_materials=["收入证明"])
    assert caplog.records, "the API logs its requests"
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in (*RESIDENT.values(), "370285194802150023"):
        assert secret not in text
