"""The remote codec endpoint of the Temporal UI: the protocol's shape, who may use it, what it
refuses, and CORS for the UI's origin on /codec/* only."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from api import create_app
from daiban.core.codec import ENCODING, KEY_ID, EncryptionCodec, new_key, parse_keys
from daiban.core.settings import Settings
from daiban.domain.privacy import mask_id_number, mask_name
from daiban.http.routes_codec import cors_origins
from daiban.run.stack import Stack as ProcessStack
from daiban.run.stack import StackConfig
from tests.api.conftest import CITY, RESIDENT, TOWNSHIP, VILLAGE, Caller, Stack, serve
from tests.api.test_validation import with_check_digit
from tests.conftest import temporal_binary
from tests.workflows.test_privacy import payloads

UI = "http://localhost:8233"  # the settings' default codec_cors_origin
UI_TWIN = "http://127.0.0.1:8233"
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(RESIDENT).encode())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def as_json(*items: Payload) -> dict[str, Any]:
    return {
        "payloads": [
            {"metadata": {k: b64(v) for k, v in p.metadata.items()}, "data": b64(p.data)}
            for p in items
        ]
    }


def from_json(body: dict[str, Any]) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in p["metadata"].items()},
            data=base64.b64decode(p["data"]),
        )
        for p in body["payloads"]
    ]


def sealed_json(metadata: dict[str, bytes], data: bytes) -> bytes:
    payload = Payload(metadata={"encoding": ENCODING, **metadata}, data=data)
    return json.dumps(as_json(payload)).encode()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_encode_then_decode_round_trip(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    staff = stack.caller("township_staff", TOWNSHIP, "codec-round-trip")
    response = await staff.post("/codec/encode", as_json(PLAIN, PLAIN))
    assert response.status_code == 200, response.text
    sealed = from_json(response.json())
    assert len(sealed) == 2
    assert all(p.metadata["encoding"] == ENCODING and p.metadata[KEY_ID] == b"dev1" for p in sealed)
    assert RESIDENT["name"].encode() not in b"".join(p.data for p in sealed)
    response = await staff.post("/codec/decode", response.json())
    assert response.status_code == 200, response.text
    assert from_json(response.json()) == [PLAIN, PLAIN]
    # Nothing to do is no error; an unencrypted payload passes unchanged.
    assert (await staff.post("/codec/decode", {})).json() == {"payloads": []}
    assert from_json((await staff.post("/codec/decode", as_json(PLAIN))).json()) == [PLAIN]
    # Every use leaves a trail: who, which operation, how many payloads (never their content).
    trail = [
        (r.msg["operation"], r.msg["payloads"])
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("sub") == "codec-round-trip"
    ]
    assert trail == [("encode", 2), ("decode", 2), ("decode", 0), ("decode", 1)]
    assert RESIDENT["id_number"] not in caplog.text


async def test_decodes_what_the_workers_wrote(stack: Stack, agent: Caller) -> None:
    """The raw history (read without the codec) is sealed; the endpoint opens it (for the staff
    handling the request, in the clear)."""
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    raw = await Client.connect(stack.settings.temporal_address, namespace="default")
    history = await raw.get_workflow_handle(f"req-{rid}").fetch_history()
    sealed = [p for event in history.events for p in payloads(event)]
    sealed = [p for p in sealed if p.metadata.get("encoding") == ENCODING]
    assert sealed and RESIDENT["id_number"].encode() not in b"".join(p.data for p in sealed)
    staff = stack.caller("township_staff", TOWNSHIP)
    response = await staff.post("/codec/decode", as_json(*sealed), {"X-Namespace": "default"})
    assert response.status_code == 200, response.text
    opened = b"".join(p.data for p in from_json(response.json()))
    assert RESIDENT["id_number"].encode() in opened


async def test_the_temporal_cli_reads_a_history_through_it(stack: Stack, agent: Caller) -> None:
    """The real client of the protocol: ``temporal --codec-endpoint … --codec-auth …``."""
    rid = await agent.new_request()
    await agent.do(rid, "handoff")  # the township's staff now handle it: they see the resident
    staff = stack.token("township_staff", TOWNSHIP)
    argv = [
        temporal_binary("temporal"), "workflow", "show", "--workflow-id", f"req-{rid}",
        "--address", stack.settings.temporal_address, "--output", "json",
        "--codec-endpoint", f"{stack.base_url}/codec", "--codec-auth", f"Bearer {staff}",
    ]  # fmt: skip
    cli = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(cli.communicate(), 60)
    assert cli.returncode == 0, err.decode()
    started = json.loads(out)["events"][0]["workflowExecutionStartedEventAttributes"]
    [payload] = started["input"]["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert RESIDENT["id_number"] in base64.b64decode(payload["data"]).decode()


@pytest.mark.parametrize(
    ("role", "office"),
    [("township_staff", TOWNSHIP), ("city_staff", CITY), ("supervisor", TOWNSHIP), ("admin", CITY)],
)
async def test_staff_and_oversight_may_use_it(stack: Stack, role: str, office: str) -> None:
    caller = stack.caller(role, office)
    for path in ("/codec/encode", "/codec/decode"):
        assert (await caller.post(path, as_json(PLAIN))).status_code == 200


async def test_agents_rating_links_and_strangers_may_not(stack: Stack) -> None:
    link = stack.token("rating_link", VILLAGE, "resident:x", req="x")
    for path in ("/codec/encode", "/codec/decode"):
        problem(await stack.caller("agent", VILLAGE).post(path, as_json(PLAIN)), 403)
        problem(await stack.anonymous(link).post(path, as_json(PLAIN)), 403)
        response = await stack.anonymous().post(path, as_json(PLAIN))
        assert problem(response, 401)["type"].endswith("unauthorized")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="daiban"'
        problem(await stack.anonymous("not-a-jwt").post(path, as_json(PLAIN)), 401)
        # Who asks comes first: a wrong namespace without a token is a 401, not a 400.
        elsewhere = {"X-Namespace": "elsewhere"}
        problem(await stack.anonymous().post(path, as_json(PLAIN), elsewhere), 401)


async def test_what_it_refuses_is_a_400_problem(stack: Stack) -> None:
    staff = stack.caller("city_staff", CITY)
    headers = {"Authorization": f"Bearer {staff.token}", "Content-Type": "application/json"}
    [sealed] = from_json((await staff.post("/codec/encode", as_json(PLAIN))).json())
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\x00")
    [foreign] = await EncryptionCodec(parse_keys(f"other:{new_key()}")).encode([PLAIN])
    bodies: dict[str, bytes] = {
        "not json": b"{",
        "not an object": b"[]",
        "payloads not a list": b'{"payloads": 1}',
        "metadata not strings": b'{"payloads": [{"metadata": {"encoding": 1}}]}',
        "not base64": b'{"payloads": [{"data": "%%%"}]}',
        "tampered": json.dumps(as_json(tampered)).encode(),
        "a key this server lacks": json.dumps(as_json(foreign)).encode(),
        "sealed garbage": sealed_json({KEY_ID: b"dev1"}, b"x" * 40),
        "sealed, too short for a nonce": sealed_json({KEY_ID: b"dev1"}, b"x" * 5),
        "sealed, empty": sealed_json({KEY_ID: b"dev1"}, b""),
        "sealed, no key id": sealed_json({}, b"x" * 40),
        "sealed, key id not text": sealed_json({KEY_ID: b"\xff\xfe"}, b"x" * 40),
    }
    for case, content in bodies.items():
        response = await stack.http.post("/codec/decode", content=content, headers=headers)
        assert problem(response, 400)["type"].endswith("bad-payloads"), case
    response = await staff.post("/codec/decode", as_json(PLAIN), {"X-Namespace": "elsewhere"})
    assert "namespace" in problem(response, 400)["detail"]
    # URL-safe base64 without padding is protobuf JSON too.
    urlsafe = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg"}, "data": "-_8"}]}
    response = await staff.post("/codec/decode", urlsafe)
    assert response.status_code == 200, response.text
    assert from_json(response.json())[0].data == b"\xfb\xff"


async def test_cors_for_the_ui_origin_and_its_twin_only(stack: Stack) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    for origin in (UI, UI_TWIN):
        response = await stack.http.options(
            "/codec/decode", headers={**preflight, "Origin": origin}
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "x-namespace"} <= set(allowed.split(", "))
        assert "POST" in response.headers["access-control-allow-methods"]

    staff = stack.caller("supervisor", CITY)
    response = await staff.post("/codec/decode", as_json(PLAIN), {"Origin": UI_TWIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI_TWIN
    assert response.headers["access-control-allow-credentials"] == "true"
    # Refusals reach the UI too (the browser shows them instead of a CORS error).
    response = await stack.anonymous().post("/codec/decode", as_json(PLAIN), {"Origin": UI})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == UI

    evil = {**preflight, "Origin": "http://evil.example"}
    response = await stack.http.options("/codec/decode", headers=evil)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    response = await staff.post("/codec/decode", as_json(PLAIN), {"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    # The rest of the API is not for browsers of other origins.
    response = await stack.http.options("/v1/requests", headers={**preflight, "Origin": UI})
    assert "access-control-allow-origin" not in response.headers
    response = await staff.get("/v1/catalog")
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins() -> None:
    assert cors_origins("http://localhost:8233") == [UI, UI_TWIN]
    assert cors_origins("http://127.0.0.1:8233/") == [UI_TWIN, UI]
    assert cors_origins("https://localhost") == ["https://localhost", "https://127.0.0.1"]
    assert cors_origins("https://temporal.example.gov.cn") == ["https://temporal.example.gov.cn"]
    assert cors_origins("") == []


async def test_documented_in_openapi(stack: Stack) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    for path in ("/codec/encode", "/codec/decode"):
        operation = document["paths"][path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/CodecPayloads"}
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/CodecPayloads"}
        assert {"400", "401", "403", "413"} <= set(operation["responses"])
        assert operation["security"] == [{"HTTPBearer": []}]
        assert "X-Namespace" in [p["name"] for p in operation["parameters"]]
    assert "CodecPayload" in document["components"]["schemas"]


def test_daiban_run_points_the_ui_at_the_codec(tmp_path: Path) -> None:
    config = StackConfig(var_dir=tmp_path, database_url="sqlite://", api_port=8123)
    stack = ProcessStack(config, Settings(), Console())
    argv = stack._temporal_argv()
    at = argv.index("--ui-codec-endpoint")
    assert argv[at + 1] == "http://127.0.0.1:8123/codec"
    # Its local UI has no sign-in: the development stack lets it decode without a token.
    assert stack._child_env()["DAIBAN_CODEC_DEV_UI_WITHOUT_TOKEN"] == "true"


async def test_the_development_ui_decodes_without_a_token(stack: Stack, agent: Caller) -> None:
    dev = Settings(**{**stack.settings.model_dump(), "environment": "development",
                      "codec_dev_ui_without_token": True})  # fmt: skip
    test = Settings(**{**stack.settings.model_dump(), "codec_dev_ui_without_token": True})
    for settings, expected in ((dev, 200), (test, 401)):
        app = create_app(settings, client=stack.client, engine=stack.engine)
        async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
            response = await http.post("/codec/decode", json=as_json(PLAIN), headers={"Origin": UI})
            assert response.status_code == expected, response.text
            # A token, when sent, is still checked: an agent's is refused.
            response = await Caller(http, agent.token).post("/codec/decode", as_json(PLAIN))
            assert response.status_code == 403
    with pytest.raises(ValueError, match="development only"):
        Settings(
            environment="production",
            jwt_secret=SecretStr("s" * 40),
            codec_keys=SecretStr(f"k1:{new_key()}"),
            codec_dev_ui_without_token=True,
        )


# --- no personal data at rest in Temporal, nor in the logs ---------------------------------------


def forms(secret: str) -> set[bytes]:
    """How a value can appear in bytes: UTF-8, and JSON's ASCII escapes (\\u6b27…), which is how
    Temporal's JSON converter writes Chinese names."""
    return {secret.encode(), json.dumps(secret).strip('"').encode()}


async def test_a_lifecycle_leaves_no_personal_data_in_history_or_logs(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Through HTTP, as in production: the raw history (read without the codec, as anyone with
    access to Temporal could) and every log line of the API and the worker hold none of the
    resident's name, ID number or phone; the codec endpoint shows they were there, sealed."""
    caplog.set_level(logging.DEBUG)
    resident = {
        "name": "欧阳秀娟",
        "id_number": with_check_digit("37028519530417062"),
        "phone": "15963287104",
    }
    secrets = list(resident.values())
    agent = stack.caller("agent", VILLAGE, "privacy-agent")
    staff = stack.caller("township_staff", TOWNSHIP, "privacy-staff")
    city = stack.caller("city_staff", CITY, "privacy-city")
    response = await agent.post(
        "/v1/requests",
        {"item": "dibao", "resident": resident, "materials": ["户口簿", "身份证"], "note": "代办"},
    )
    assert response.status_code == 201, response.text
    rid = response.json()["id"]
    steps: list[tuple[Caller, str, dict[str, Any]]] = [
        (agent, "handoff", {}), (staff, "request_supplement", {"missing_materials": ["收入证明"]}),
        (agent, "supplement", {}), (staff, "accept", {}), (staff, "forward", {}),
        (city, "accept", {}), (city, "approve", {"note": "符合条件"}), (agent, "deliver", {}),
    ]  # fmt: skip
    for caller, action, fields in steps:
        await caller.do(rid, action, **fields)
    rated = await agent.post(f"/v1/requests/{rid}/rating", {"score": 2, "comment": "太慢"})
    assert rated.status_code == 200, rated.text
    assert (rated.json()["stage"], rated.json()["responsible_office"]) == ("rectification", CITY)
    await city.do(rid, "callback", note="已回访", reached=True)
    state = await city.do(rid, "rectify", note="已说明", outcome="explained")
    assert (state["stage"], state["resident"]["id_number"]) == ("completed", resident["id_number"])

    raw = await Client.connect(stack.settings.temporal_address, namespace="default")
    handle = raw.get_workflow_handle(f"req-{rid}")
    history = await handle.fetch_history()
    description = await handle.describe()
    found = [p for event in history.events for p in payloads(event)]
    found += payloads(description.raw_description)
    blob = b"".join(p.SerializeToString() for p in found) + history.to_json().encode()
    for secret in secrets:
        assert not any(form in blob for form in forms(secret)), secret
    sealed = [p for p in found if p.metadata.get("encoding") == ENCODING]
    assert len(sealed) >= 10

    # Opened event by event, as the UI asks: the data was there, sealed; a supervisor reads it
    # masked, as the API would show it.
    supervisor = stack.caller("supervisor", CITY)
    plain = b""
    for event in history.events:
        event_sealed = [p for p in payloads(event) if p.metadata.get("encoding") == ENCODING]
        if event_sealed:
            decoded = await supervisor.post("/codec/decode", as_json(*event_sealed))
            assert decoded.status_code == 200, decoded.text
            plain += b"".join(p.data for p in from_json(decoded.json()))
    masked = [mask_name(resident["name"]), mask_id_number(resident["id_number"])]
    assert all(any(form in plain for form in forms(value)) for value in masked)
    for secret in secrets:
        assert not any(form in plain for form in forms(secret)), secret

    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    assert "notification" in logged and "/v1/requests/{id}/actions" in logged  # it did capture
    for secret in secrets:
        assert not any(form.decode() in logged for form in forms(secret)), secret
