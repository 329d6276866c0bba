"""The request as recorded, which the console's pages show: after every action it is what
``GET /v1/requests/{id}`` answers from the workflow, to every caller, and reading it never asks
the workflow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from daiban.domain.catalog import catalog_from_settings
from daiban.domain.scope import Principal, principal_from_claims
from daiban.http import routes_requests
from daiban.http.deps import Services
from daiban.http.problems import Problem
from daiban.http.telemetry import Metrics
from tests.api.conftest import (
    CITY,
    CITY_ITEM,
    NEIGHBOUR,
    OFFICES,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    VILLAGE,
    Caller,
    Stack,
)


@pytest.fixture
async def services(stack: Stack) -> AsyncIterator[Services]:
    """The API's services as its lifespan builds them, on the test stack's database and client."""
    yield Services(
        settings=stack.settings,
        engine=stack.engine,
        catalog=catalog_from_settings(stack.settings),
        metrics=Metrics(),
        client=stack.client,
    )


def principal(caller: Caller) -> Principal:
    claims = {"sub": f"{caller.role}-{caller.office}", "role": caller.role, "office": caller.office}
    return principal_from_claims(claims, OFFICES)


async def recorded(services: Services, caller: Caller, request_id: str) -> dict[str, Any]:
    out = await routes_requests.recorded_request(request_id, principal(caller), services)
    return out.model_dump(mode="json", by_alias=True)


async def test_the_recorded_request_is_what_the_api_answers_after_every_action(
    stack: Stack,
    services: Services,
    agent: Caller,
    staff: Caller,
    city_staff: Caller,
    supervisor: Caller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readers = (agent, staff, city_staff, supervisor)

    async def compare(request_id: str) -> None:
        """Each reader is told the same by both: the state, or 404 while out of its scope (the
        city's staff until the request is forwarded)."""
        for reader in readers:
            response = await reader.get(f"/v1/requests/{request_id}")
            with monkeypatch.context() as patched:
                patched.setattr(routes_requests, "_query_state", no_query)
                if response.status_code == 404:
                    with pytest.raises(Problem) as raised:
                        await recorded(services, reader, request_id)
                    assert raised.value.status == 404, reader.role
                    continue
                assert response.status_code == 200, response.text
                assert await recorded(services, reader, request_id) == response.json(), reader.role

    async def no_query(*_: object) -> object:
        raise AssertionError("the recorded request asked the workflow")

    rid = await agent.new_request(CITY_ITEM)
    await compare(rid)
    steps: list[tuple[Caller, str, dict[str, Any]]] = [
        (agent, "handoff", {}),
        (staff, "request_supplement", {"missing_materials": ["收入证明"]}),
        (agent, "supplement", {"note": "已补齐"}),
        (staff, "accept", {}),
        (staff, "forward", {"note": "报市中心"}),
        (city_staff, "accept", {}),
        (city_staff, "approve", {"note": "符合条件"}),
        (agent, "deliver", {}),
    ]
    for caller, action, fields in steps:
        response = await caller.act(rid, action, **fields)
        if response.status_code != 200:  # an action this path does not take: say which
            pytest.fail(f"{caller.role} {action}: {response.status_code} {response.text}")
        await compare(rid)

    response = await agent.post(f"/v1/requests/{rid}/rating", {"score": 2, "comment": "太慢"})
    assert response.status_code == 200, response.text
    await compare(rid)
    state = await recorded(services, supervisor, rid)
    assert state["stage"] == "rectification" and state["rating"]["score"] == 2
    # The city decided: its staff call back and rectify; read the same once the workflow closed.
    for action, fields in (("callback", {"reached": True}), ("rectify", {"outcome": "explained"})):
        response = await city_staff.act(rid, action, note="已回访并说明", **fields)
        assert response.status_code == 200, response.text
        await compare(rid)
    state = await recorded(services, agent, rid)
    # Closed; the resident may still rate the fix.
    assert (state["stage"], state["status"], state["allowed_actions"]) == (
        "completed", "closed", ["rate"],
    )  # fmt: skip


async def test_the_recorded_request_keeps_the_scope_of_the_api(
    stack: Stack, services: Services, agent: Caller
) -> None:
    rid = await agent.new_request()
    other_village = stack.caller("agent", NEIGHBOUR)
    other_township = stack.caller("township_staff", OTHER_TOWNSHIP)
    for outsider in (other_village, other_township):
        assert (await outsider.get(f"/v1/requests/{rid}")).status_code == 404
        with pytest.raises(Problem) as raised:
            await recorded(services, outsider, rid)
        assert raised.value.status == 404
    assert (await recorded(services, agent, rid))["village"] == VILLAGE
    assert (await recorded(services, stack.caller("supervisor", CITY), rid))["township"] == TOWNSHIP
