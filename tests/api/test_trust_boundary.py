"""The paths around the API (docs/design.md §6, the trust boundary), attacked the way someone with
bad intentions would try them: the codec endpoint, decompression, the development codec, the
metrics, the logs and the access record, and the smaller deviations (commands sent to Temporal
directly: test_trust_temporal.py). Each test failed on the code before the fix."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlmodel import Session, col, select
from temporalio.api.common.v1 import Payload

from api import create_app
from daiban.core.codec import EncryptionCodec, parse_keys
from daiban.core.settings import Settings
from daiban.http.guards import Guards
from models.db import OutboxRow
from tests.api.conftest import (
    CITY,
    CITY_ITEM,
    MASKED,
    OTHER_TOWNSHIP,
    RESIDENT,
    SECOND_CITY,
    SECOND_TOWNSHIP,
    TOWNSHIP,
    VILLAGE,
    Caller,
    Stack,
    serve,
)
from tests.api.test_codec_endpoint import UI, as_json, from_json, problem

# --- 1. the codec endpoint applies the API's scope and masking ---------------------------------
from tests.api.trust_helpers import access_rows, at_township, sealed_payloads, shows, wait_for


async def test_the_codec_applies_scope_and_masking_and_records_who_read(
    stack: Stack, agent: Caller
) -> None:
    rid = await at_township(agent)
    sealed = await sealed_payloads(stack, rid)
    body = as_json(*sealed)

    # The staff handling the request read the resident, and that read is recorded.
    handling = stack.caller("township_staff", TOWNSHIP, "codec-handling")
    response = await handling.post("/codec/decode", body)
    assert response.status_code == 200, response.text
    opened = b"".join(p.data for p in from_json(response.json()))
    assert RESIDENT["id_number"].encode() in opened
    assert response.headers["cache-control"] == "no-store"
    [row] = [r for r in access_rows(stack, rid) if r.sub == "codec-handling"]
    assert (row.endpoint, row.role, row.office) == ("codec", "township_staff", TOWNSHIP)

    # A supervisor, and the admin, see the resident masked, and no access is recorded for them.
    for role, office in (("supervisor", CITY), ("supervisor", TOWNSHIP), ("admin", CITY)):
        caller = stack.caller(role, office, f"codec-{role}-{office}")
        response = await caller.post("/codec/decode", body)
        assert response.status_code == 200, response.text
        opened = b"".join(p.data for p in from_json(response.json()))
        assert not shows(opened, RESIDENT), (role, office)
        assert MASKED["id_number"].encode() in opened
        assert not [r for r in access_rows(stack, rid) if r.sub == caller.token and r]

    # Staff of another township, the city before the request was forwarded, and anyone of
    # another city the deployment serves: out of scope.
    outside = (
        ("township_staff", OTHER_TOWNSHIP),
        ("city_staff", CITY),
        ("supervisor", SECOND_CITY),
        ("supervisor", SECOND_TOWNSHIP),
        ("township_staff", SECOND_TOWNSHIP),
        ("city_staff", SECOND_CITY),
    )
    for role, office in outside:
        response = await stack.caller(role, office).post("/codec/decode", body)
        assert "outside your scope" in problem(response, 403)["detail"]
    codec_reads = [r for r in access_rows(stack, rid) if r.endpoint == "codec"]
    assert {r.sub for r in codec_reads} == {"codec-handling"}

    # The access record, for the supervisors in scope.
    listed = await stack.caller("supervisor", TOWNSHIP).get("/v1/supervision/access", request=rid)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(i["sub"], i["endpoint"]) for i in items if i["endpoint"] == "codec"] == [
        ("codec-handling", "codec")
    ]
    elsewhere = await stack.caller("supervisor", OTHER_TOWNSHIP).get(
        "/v1/supervision/access", request=rid
    )
    assert elsewhere.json()["items"] == []
    refused = await stack.caller("township_staff", TOWNSHIP).get("/v1/supervision/access")
    problem(refused, 403)


# --- 4. decompression and the codec's rate ------------------------------------------------------


async def test_decoding_cannot_inflate_without_bound(stack: Stack) -> None:
    codec = EncryptionCodec(parse_keys(stack.settings.codec_keys.get_secret_value()))
    zeros = Payload(metadata={"encoding": b"binary/plain"}, data=bytes(8 * 1024 * 1024))
    [bomb] = await codec.encode([zeros])
    assert len(bomb.data) < 64 * 1024
    staff = stack.caller("township_staff", TOWNSHIP)
    response = await staff.post("/codec/decode", as_json(bomb))
    assert "inflates beyond" in problem(response, 413)["detail"]
    # Each under the cap, together over it.
    [part] = await codec.encode(
        [Payload(metadata={"encoding": b"binary/plain"}, data=bytes(1_900_000))]
    )
    response = await staff.post("/codec/decode", as_json(*[part] * 10))
    assert "in total" in problem(response, 413)["detail"]


async def test_the_codec_is_rate_limited(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"codec_rate_per_minute": 3})
    app = create_app(settings, client=stack.client, engine=stack.engine)
    token = stack.token("township_staff", TOWNSHIP, f"codec-rate-{uuid.uuid4().hex[:6]}")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        caller = Caller(http, token)
        codes = [(await caller.post("/codec/decode", {})).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await caller.post("/codec/encode", {})
        assert problem(limited, 429)["detail"] == "at most 3 codec calls per minute"


# --- 5. the development codec and host names ----------------------------------------------------


async def test_the_development_codec_without_a_token_is_local_and_masked(
    stack: Stack, agent: Caller
) -> None:
    rid = await at_township(agent)
    body = as_json(*await sealed_payloads(stack, rid))
    dev = Settings(**{**stack.settings.model_dump(), "environment": "development",
                      "codec_dev_ui_without_token": True})  # fmt: skip
    app = create_app(dev, client=stack.client, engine=stack.engine)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        # Another local process (no Origin), or a page of another site: a token is needed.
        for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
            response = await http.post("/codec/decode", json=body, headers=headers)
            problem(response, 401)
        # The UI itself: residents masked, like any admin.
        response = await http.post("/codec/decode", json=body, headers={"Origin": UI})
        assert response.status_code == 200, response.text
        opened = b"".join(p.data for p in from_json(response.json()))
        assert not shows(opened, RESIDENT)
        assert MASKED["id_number"].encode() in opened
        # A name rebound to 127.0.0.1 (DNS rebinding): the API does not answer under it.
        for path in ("/codec/decode", "/v1/catalog", "/healthz"):
            response = await http.post(
                path, json=body, headers={"Origin": UI, "Host": "evil.example"}
            )
            problem(response, 421)
        for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
            assert (await http.get("/healthz", headers={"Host": host})).status_code == 200


# --- 6. metrics labels are bounded ---------------------------------------------------------------


async def test_made_up_methods_do_not_grow_the_metrics(stack: Stack) -> None:
    before = len((await stack.http.get("/metrics")).text)
    for n in range(50):
        await stack.http.request(f"MADEUP{n}", "/healthz")
    text = (await stack.http.get("/metrics")).text
    assert "MADEUP" not in text
    assert 'method="other"' in text
    assert len(text) < before + 5_000


# --- 8. smaller deviations ---------------------------------------------------------------------


def cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "forged",
    [
        cursor(True),
        cursor(True, "x"),
        cursor(10**30, "x"),
        cursor("9999-12-31T23:59:59-12:00", "x"),
        cursor("0001-01-01T00:00:00+14:00", "x"),
        base64.urlsafe_b64encode(b"[" + b"9" * 5000 + b', "x"]').decode(),
        cursor("2026-01-01T00:00:00+08:00", 7),
    ],
)
async def test_forged_cursors_are_422(stack: Stack, agent: Caller, forged: str) -> None:
    staff = stack.caller("township_staff", TOWNSHIP)
    for caller, path in ((agent, "/v1/requests"), (staff, "/v1/queue")):
        response = await caller.get(path, cursor=forged)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == "cursor"


async def test_only_the_head_of_the_handling_office_approves_an_extension(
    stack: Stack, agent: Caller, staff: Caller, city_staff: Caller
) -> None:
    rid = await at_township(agent, CITY_ITEM)
    await staff.do(rid, "accept")
    await staff.do(rid, "forward")
    await city_staff.do(rid, "accept")
    await city_staff.do(rid, "request_extension", days=2, note="需专家评审")
    township_supervisor = stack.caller("supervisor", TOWNSHIP)
    response = await township_supervisor.act(rid, "approve_extension")
    assert response.status_code == 409, response.text
    state = await stack.caller("supervisor", CITY).do(rid, "approve_extension")
    assert state["history"][-1]["action"] == "approve_extension"


@pytest.mark.parametrize(
    "name", ["\u200b\u200b", "王\u202e英秀", "\u2066王秀英\u2069", "王\u200d秀英", "***", "\ufeff"]
)
async def test_invisible_and_direction_changing_names_are_422(agent: Caller, name: str) -> None:
    response = await agent.post(
        "/v1/requests", {"item": "linshi-jiuzhu", "resident": {**RESIDENT, "name": name}}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "resident.name"


async def test_a_refused_preflight_is_a_problem(stack: Stack) -> None:
    response = await stack.http.options(
        "/codec/decode",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    body = problem(response, 400)
    assert "Disallowed CORS origin" in body["detail"]
    assert "access-control-allow-origin" not in response.headers


async def test_answers_with_residents_are_not_stored_by_caches(stack: Stack, agent: Caller) -> None:
    rid = await agent.new_request()
    for response in (
        await agent.get(f"/v1/requests/{rid}"),
        await agent.post(f"/v1/requests/{rid}/actions", {"action": "handoff"}),
        await agent.get("/v1/requests"),
    ):
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"


async def test_the_development_secret_is_not_served_on_a_non_loopback_listener() -> None:
    """``daiban serve --host 0.0.0.0`` bypasses DAIBAN_API_HOST: the listener decides."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def scope(server: tuple[str, int]) -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": "/healthz", "server": server,
                "headers": [(b"host", b"127.0.0.1")], "query_string": b""}  # fmt: skip

    development = Guards(app, settings=Settings(environment="test"))
    real = Guards(app, settings=Settings(environment="test", jwt_secret=SecretStr("r" * 40)))
    for guards, server, status in (
        (development, ("10.1.2.3", 8000), 503),
        (development, ("127.0.0.1", 8000), 200),
        (real, ("10.1.2.3", 8000), 200),
    ):
        sent.clear()
        await guards(scope(server), receive, send)
        assert sent[0]["status"] == status, (server, status)


# --- 7. the access record and the logs ---------------------------------------------------------


async def test_every_unmasked_answer_of_the_api_is_recorded(stack: Stack) -> None:
    agent = stack.caller("agent", VILLAGE, f"reader-{uuid.uuid4().hex[:6]}")
    rid = await agent.new_request()
    await agent.get(f"/v1/requests/{rid}")
    await agent.do(rid, "handoff")
    # A supervisor's answer is masked: not recorded. The staff now handling it see the resident.
    supervisor = stack.caller("supervisor", CITY, "reader-supervisor")
    await supervisor.get(f"/v1/requests/{rid}")
    staff = stack.caller("township_staff", TOWNSHIP, "reader-staff")
    state = (await staff.get(f"/v1/requests/{rid}")).json()
    assert state["resident"]["id_number"] == RESIDENT["id_number"]
    rows = [(r.sub, r.endpoint) for r in access_rows(stack, rid)]
    assert sorted(rows) == sorted(
        [(agent_sub(agent), "submit"), (agent_sub(agent), "request"),
         (agent_sub(agent), "handoff"), ("reader-staff", "request")]
    )  # fmt: skip
    listed = await stack.caller("supervisor", CITY).get("/v1/supervision/access", request=rid)
    assert {i["endpoint"] for i in listed.json()["items"]} == {"submit", "request", "handoff"}


def agent_sub(caller: Caller) -> str:
    assert caller.token is not None
    sub: str = jwt.decode(caller.token, options={"verify_signature": False})["sub"]
    return sub


async def test_notes_and_query_strings_stay_out_of_the_logs_and_the_outbox(
    stack: Stack, agent: Caller, staff: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rid = await at_township(agent)
    note = f"申请人王秀英电话{RESIDENT['phone']}材料不全"
    await staff.do(rid, "refuse", note=note)
    await agent.get("/v1/requests", item="linshi-jiuzhu", cursor=None)
    with Session(stack.engine) as session:
        outbox = session.exec(select(OutboxRow).where(col(OutboxRow.request_id) == rid)).all()
    # The agent is told of the refusal and where to read why; the note itself stays out.
    assert any("不予受理" in row.message for row in outbox)
    assert not any(RESIDENT["phone"] in row.message or note in row.message for row in outbox)
    await wait_for(lambda: any(r for r in caplog.records if "notification" in str(r.msg)))
    # What the system wrote (the test's own HTTP client logs its requests too).
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    assert "notification" in logged
    assert RESIDENT["phone"] not in logged and note not in logged
    assert "item=linshi-jiuzhu" not in logged  # no access line with the query string
    # uvicorn's access line (path and query string) is dropped whatever its configuration.
    access = logging.getLogger("uvicorn.access")
    line = access.makeRecord("uvicorn.access", logging.INFO, "h11_impl.py", 1, "%s", ("q",), None)
    assert not access.filter(line)
