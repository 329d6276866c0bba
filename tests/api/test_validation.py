"""Bad input is a 422 problem naming the field (never a 500); a body over the limit is a 413;
an action not allowed now is a 409 with what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import RESIDENT, Caller, Stack

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(first17: str) -> str:
    return (
        first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]
    )


RESIDENT_CASES: dict[str, tuple[str, Any]] = {
    "bad check digit": ("id_number", "370285194802150023"),
    "impossible birth date": ("id_number", with_check_digit("37028519480230002")),
    "birth date in the future": ("id_number", with_check_digit("37028521000101002")),
    "born before 1900": ("id_number", with_check_digit("37028518991231002")),
    "too short": ("id_number", "3702851948021500"),
    "letters": ("id_number", "37028519480215002A"),
    "too long": ("id_number", "3702851948021500244"),
    "phone starting 12": ("phone", "12805321234"),
    "phone of 10 digits": ("phone", "1380532123"),
    "phone with country code": ("phone", "+8613805321234"),
    "empty name": ("name", ""),
    "blank name": ("name", "   "),
    "name too long": ("name", "王" * 51),
    "name not a string": ("name", 42),
}


def fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["type"].endswith("invalid-input")
    return [error["field"] for error in body["errors"]]


@pytest.mark.parametrize("case", list(RESIDENT_CASES))
async def test_each_bad_resident_field_is_422(agent: Caller, case: str) -> None:
    field, value = RESIDENT_CASES[case]
    response = await agent.submit(resident={**RESIDENT, field: value})
    assert fields(response) == [f"resident.{field}"], case
    # The refused value is not echoed back (it may be personal data).
    if isinstance(value, str) and len(value) > 3:
        assert value not in response.text


async def test_submission_errors(agent: Caller) -> None:
    assert fields(await agent.submit(item="no-such-item")) == ["item"]
    assert fields(await agent.submit(channel="fax")) == ["channel"]
    assert fields(await agent.submit(note="长" * 2001)) == ["note"]
    assert fields(await agent.submit(materials=[""])) == ["materials.0"]
    assert fields(await agent.submit(surprise=True)) == ["surprise"]
    assert fields(await agent.post("/v1/requests", {"item": "dibao"})) == ["resident"]
    lowercase_x = {**RESIDENT, "id_number": "11010519491231002x"}
    response = await agent.submit(resident=lowercase_x)
    assert response.status_code == 201 and response.json()["resident"]["id_number"].endswith("X")


async def test_malformed_json_is_422(agent: Caller) -> None:
    response = await agent.http.post(
        "/v1/requests",
        content=b'{"item": ',
        headers={"Authorization": f"Bearer {agent.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("body") or response.json()["errors"]


async def test_body_over_the_limit_is_413(stack: Stack, agent: Caller) -> None:
    size = stack.settings.max_body_bytes + 1
    response = await agent.submit(note="x" * size)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413


async def test_bad_query_and_path_are_422(agent: Caller, supervisor: Caller) -> None:
    assert fields(await agent.get("/v1/requests", limit=500)) == ["limit"]
    assert fields(await agent.get("/v1/requests", stage="nowhere")) == ["stage"]
    assert fields(await agent.get("/v1/requests", cursor="%%%")) == ["cursor"]
    assert fields(await agent.get("/v1/requests", created_from="yesterday")) == ["created_from"]
    assert fields(await supervisor.get("/v1/stats", **{"from": "2026-13-01"})) == ["from"]
    assert fields(await agent.get("/v1/requests/bad id!")) == ["id"]


async def test_missing_action_fields_are_422(agent: Caller, staff: Caller) -> None:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    cases = [
        ("refuse", {}, ["note"]),
        ("refuse", {"note": ""}, ["note"]),
        ("request_supplement", {}, ["missing_materials"]),
        ("request_supplement", {"missing_materials": []}, ["missing_materials"]),
        ("accept_with_gap", {"missing_materials": ["收入证明"]}, ["due", "commitment"]),
        ("accept_with_gap", {"due": "2030-01-01"}, ["missing_materials", "commitment"]),
        ("pause", {}, ["reason", "expected_days"]),
        ("pause", {"reason": "hearing"}, ["expected_days"]),
        ("pause", {"reason": "lunch"}, ["expected_days", "reason"]),
        ("request_extension", {"note": "复杂"}, ["days"]),
        ("nonsense", {}, ["action"]),
    ]
    for action, body, expected in cases:
        assert fields(await staff.act(rid, action, **body)) == expected, (action, body)
    assert fields(await staff.act(rid, "accept", days="many")) == ["days"]
    assert fields(await staff.act(rid, "accept_with_gap", missing_materials=["x"], due="soon")) == [
        "due"
    ]
    await staff.do(rid, "accept")
    assert fields(await staff.act(rid, "deny")) == ["note"]
    # The checks wrote nothing: the history has only what succeeded.
    state = (await agent.get(f"/v1/requests/{rid}")).json()
    assert [h["action"] for h in state["history"]] == ["submit", "handoff", "accept"]


async def test_action_not_allowed_now_is_409_with_allowed_actions(
    agent: Caller, staff: Caller
) -> None:
    rid = await agent.new_request()
    response = await staff.act(rid, "accept")  # still at the village
    assert response.status_code == 409
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["allowed_actions"] == [] and body["stage"] == "village_intake"
    response = await agent.act(rid, "deliver")
    assert response.status_code == 409
    assert response.json()["allowed_actions"] == ["handoff", "withdraw"]
    await agent.do(rid, "handoff")
    response = await staff.act(rid, "approve")  # not accepted yet
    assert response.status_code == 409
    assert "accept" in response.json()["allowed_actions"]
    assert "approve" not in response.json()["allowed_actions"]


async def test_chunked_body_over_the_limit_is_413(stack: Stack, agent: Caller) -> None:
    async def chunks() -> Any:
        for _ in range(stack.settings.max_body_bytes // 1024 + 2):
            yield b" " * 1024

    response = await agent.http.post(
        "/v1/requests",
        content=chunks(),
        headers={"Authorization": f"Bearer {agent.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
