"""Hostile input: tokens forged in ways tests/api/test_auth.py does not try, bodies over the limit
however they are framed, over-long and poisoned fields, a runaway submitter, and idempotency keys
that must not pile up. Every refusal is a problem with a 4xx status, never a 5xx."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from api import create_app
from daiban.http.problems import RateLimited
from daiban.http.ratelimit import RateLimiter
from daiban.store import idempotency
from models.db import IdempotencyKey, utc_now
from tests.api.conftest import (
    CITY,
    RESIDENT,
    SECRET,
    TOWNSHIP,
    VILLAGE,
    Caller,
    Stack,
    serve,
)

PROBLEM = "application/problem+json"


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def signed(header: Any, payload: Any, secret: str = SECRET) -> str:
    """A token signed with the API's own secret (HS256) whatever its header and claims say."""
    head = b64(json.dumps(header).encode()) + b"." + b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), head, hashlib.sha256).digest()
    return (head + b"." + b64(signature)).decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "agent-h", "role": "agent", "office": VILLAGE, "exp": now + 600} | overrides


HS256 = {"alg": "HS256", "typ": "JWT"}
# Only what tests/api/test_auth.py leaves out: these are signed with the right secret.
FORGED = {
    "alg None, capitalised": lambda: signed({"alg": "None"}, claims()),
    "alg NONE": lambda: signed({"alg": "NONE"}, claims()).rsplit(".", 1)[0] + ".",
    "alg hs256, lower case": lambda: signed({"alg": "hs256"}, claims()),
    "header not an object": lambda: signed(["HS256"], claims()),
    "unknown critical header": lambda: signed({**HS256, "crit": ["b64"], "b64": False}, claims()),
    "claims not an object": lambda: signed(HS256, ["agent", VILLAGE]),
    "exp not a number": lambda: signed(HS256, claims(exp="tomorrow")),
    "exp infinite": lambda: signed(HS256, claims(exp=float("inf"))),
    "not valid yet": lambda: signed(HS256, claims(nbf=int(time.time()) + 3600)),
    "role not a string": lambda: signed(HS256, claims(role=["agent"])),
    "office not a string": lambda: signed(HS256, claims(office=int(VILLAGE))),
    "sub too long": lambda: signed(HS256, claims(sub="a" * 129)),
    "sub not a string": lambda: signed(HS256, claims(sub={"id": 1})),
    "supervisor of a village": lambda: signed(HS256, claims(role="supervisor")),
    "city staff of a township": lambda: signed(HS256, claims(role="city_staff", office=TOWNSHIP)),
    "rating link with a list of requests": lambda: signed(
        HS256, claims(role="rating_link", req=["a", "b"])
    ),
    "padded to 8 kB": lambda: signed(HS256, claims(role="mayor", pad="x" * 6000)),
}


@pytest.mark.parametrize("case", list(FORGED))
async def test_forged_tokens_are_401(stack: Stack, case: str) -> None:
    caller = stack.anonymous(FORGED[case]())
    for response in (
        await caller.get("/v1/requests"),
        await caller.post("/codec/decode", {"payloads": []}),
        await caller.act("anything", "withdraw"),
    ):
        assert response.status_code == 401, (case, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


# --- bodies over the limit ---------------------------------------------------------------------


async def raw_exchange(
    stack: Stack, request: bytes, then: bytes = b""
) -> tuple[int, dict[str, str], bytes, bytes]:
    """One request written to the socket as given (so that headers may lie); its answer. ``then``
    is written after the answer; what the server says to it (if anything) comes last."""
    url = httpx.URL(stack.base_url)
    assert url.host and url.port
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
        after = b""
        if then:
            writer.write(then)
            try:
                await writer.drain()
                after = await asyncio.wait_for(reader.read(), 10)
            except ConnectionError:
                pass  # the server hung up on it: as good an answer as any
        return int(status_line.split()[1]), headers, body, after
    finally:
        writer.close()


def request_head(agent: Caller, path: str, *headers: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: api",
        f"Authorization: Bearer {agent.token}",
        "Content-Type: application/json",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    stack: Stack, agent: Caller
) -> None:
    """The body is never sent: the API answers from the header alone."""
    huge = f"Content-Length: {10**12}"
    for path in ("/v1/requests", "/codec/decode", "/v1/requests/x/actions"):
        status, headers, body, _ = await raw_exchange(stack, request_head(agent, path, huge))
        assert status == 413, path
        assert headers["content-type"] == PROBLEM
        assert json.loads(body)["status"] == 413


async def test_a_length_that_understates_the_body_smuggles_nothing(
    stack: Stack, agent: Caller
) -> None:
    """Only the declared bytes are the body (here a cut-off JSON document, so a 422); what
    follows them is read as the next request, which is no request at all."""
    payload = json.dumps({"item": "dibao", "note": "x" * (2 * stack.settings.max_body_bytes)})
    head = request_head(agent, "/v1/requests", "Content-Length: 16")
    declared, rest = payload.encode()[:16], payload.encode()[16:]
    status, headers, body, after = await raw_exchange(stack, head + declared, then=rest)
    assert status == 422
    assert headers["content-type"] == PROBLEM
    assert json.loads(body)["errors"]
    assert after == b"" or after.startswith(b"HTTP/1.1 4"), after[:100]


# (POST /v1/requests: tests/api/test_validation.py)
@pytest.mark.parametrize(
    "path", ["/codec/decode", "/v1/requests/x/actions", "/v1/requests/x/rating"]
)
async def test_chunked_bodies_over_the_limit_are_413_everywhere(stack: Stack, path: str) -> None:
    staff = stack.caller("township_staff", TOWNSHIP)
    chunk = b" " * 65536
    codec = path.startswith("/codec/")
    limit = stack.settings.codec_max_body_bytes if codec else stack.settings.max_body_bytes

    async def chunks() -> Any:
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    response = await stack.http.post(
        path,
        content=chunks(),
        headers={"Authorization": f"Bearer {staff.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 413 and body["type"].endswith("payload-too-large")


async def test_a_body_that_is_not_even_text_is_422(agent: Caller) -> None:
    response = await agent.http.post(
        "/v1/requests",
        content=b'{"item": "\xff\xfe"}',
        headers={"Authorization": f"Bearer {agent.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "body"


# --- fields too long, or poisoned -----------------------------------------------------------------


def refused_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return [error["field"] for error in response.json()["errors"]]


async def test_over_long_fields_are_422(stack: Stack, agent: Caller, staff: Caller) -> None:
    assert refused_fields(await agent.submit(materials=["证" * 201])) == ["materials.0"]
    assert refused_fields(await agent.submit(materials=["户口簿"] * 51)) == ["materials"]
    assert refused_fields(await agent.submit(item="x" * 65)) == ["item"]
    assert refused_fields(await agent.submit(key="k" * 201)) == ["Idempotency-Key"]
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        ("refuse", {"note": "理" * 2001}, ["note"]),
        ("request_supplement", {"missing_materials": ["证" * 201]}, ["missing_materials.0"]),
        ("request_supplement", {"missing_materials": ["证"] * 51}, ["missing_materials"]),
        ("pause", {"reason": "r" * 41}, ["reason"]),
        ("appeal_rating", {"comment": "评" * 501}, ["comment"]),
    ]
    for action, fields, expected in cases:
        assert refused_fields(await staff.act(rid, action, **fields)) == expected, action
    response = await agent.post(f"/v1/requests/{rid}/rating", {"score": 3, "comment": "评" * 501})
    assert refused_fields(response) == ["comment"]
    response = await staff.post("/codec/decode", {"payloads": []}, {"X-Namespace": "n" * 256})
    assert refused_fields(response) == ["X-Namespace"]
    # Nothing of it was written.
    state = (await agent.get(f"/v1/requests/{rid}")).json()
    assert [h["action"] for h in state["history"]] == ["submit", "handoff"]


async def test_nul_characters_are_refused_not_stored(stack: Stack, agent: Caller) -> None:
    """PostgreSQL text cannot hold NUL: a 422 at the door, never a database error."""
    assert refused_fields(await agent.submit(note="备\x00注")) == ["note"]
    assert refused_fields(await agent.submit(materials=["户口\x00簿"])) == ["materials.0"]
    for params in ({"office": "\x00"}, {"item": "a\x00"}, {"township": "\x01"}, {"cursor": "\x00"}):
        assert refused_fields(await agent.get("/v1/requests", **params)) == list(params)
    assert refused_fields(await agent.get("/v1/offices", parent="3702\x00")) == ["parent"]
    supervisor = stack.caller("supervisor", CITY)
    response = await supervisor.get("/v1/supervision/verify", request="\x00")
    assert refused_fields(response) == ["request"]


async def test_times_at_the_ends_of_the_calendar_are_422(stack: Stack, agent: Caller) -> None:
    """Each of these overflowed while converting between time zones (a 500) before."""
    supervisor = stack.caller("supervisor", CITY)
    probes: list[tuple[Caller, str, dict[str, str]]] = [
        (supervisor, "/v1/stats", {"to": "9999-12-31"}),
        (supervisor, "/v1/stats", {"from": "0001-01-01"}),
        (supervisor, "/v1/supervision/events", {"since": "9999-12-31T23:59:59-12:00"}),
        (supervisor, "/v1/supervision/events", {"since": "0001-01-01T00:00:00"}),
        (agent, "/v1/requests", {"created_from": "9999-12-31T23:59:59-12:00"}),
        (agent, "/v1/requests", {"created_to": "0001-01-01T00:00:00+14:00"}),
    ]
    for caller, path, params in probes:
        assert refused_fields(await caller.get(path, **params)) == list(params), (path, params)
    # Ordinary ranges still answer.
    assert (await supervisor.get("/v1/stats", **{"from": "2026-01-01"})).status_code == 200
    response = await agent.get("/v1/requests", created_to="2026-01-01T00:00:00+14:00")
    assert response.status_code == 200


# --- a runaway submitter -------------------------------------------------------------------------


async def test_the_rate_limit_is_per_subject_and_spares_the_others(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"submit_rate_per_minute": 3})
    app = create_app(settings, client=stack.client, engine=stack.engine)
    body = {"item": "no-such-item", "resident": RESIDENT}  # valid, refused later: no workflow
    hasty = stack.token("agent", VILLAGE, f"hasty-{uuid.uuid4().hex[:6]}")
    calm = stack.token("agent", VILLAGE, f"calm-{uuid.uuid4().hex[:6]}")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:

        async def submit(token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"}
            return await http.post("/v1/requests", json=body, headers=headers)

        assert [(await submit(hasty)).status_code for _ in range(3)] == [422] * 3
        limited = await submit(hasty)
        assert limited.status_code == 429
        assert limited.headers["content-type"] == PROBLEM
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["type"].endswith("rate-limited")
        # Another agent is not slowed down by this one.
        assert [(await submit(calm)).status_code for _ in range(3)] == [422] * 3
        # Reads are not limited, and the limit holds while the window lasts.
        read = await http.get("/v1/requests", headers={"Authorization": f"Bearer {hasty}"})
        assert read.status_code == 200
        assert (await submit(hasty)).status_code == 429


def test_the_window_slides() -> None:
    limiter = RateLimiter(3)
    for at in (0.0, 10.0, 20.0):
        limiter.check("a", now=at)
    with pytest.raises(RateLimited) as refused:
        limiter.check("a", now=30.0)
    assert refused.value.headers == {"Retry-After": "30"}
    limiter.check("b", now=30.0)  # another subject
    limiter.check("a", now=60.5)  # the first hit has left the window
    with pytest.raises(RateLimited):
        limiter.check("a", now=61.0)


# --- idempotency keys do not pile up -----------------------------------------------------------


def key_row(agent: str, key: str, age: timedelta) -> IdempotencyKey:
    return IdempotencyKey(
        agent=agent,
        key=key,
        request_id=uuid.uuid4().hex,
        body_hash="0" * 64,
        created_at=utc_now() - age,
    )


def keys_of(stack: Stack, agent: str) -> set[str]:
    with Session(stack.engine) as session:
        rows = session.exec(select(IdempotencyKey).where(col(IdempotencyKey.agent) == agent))
        return {row.key for row in rows}


async def test_expired_keys_are_purged_by_submissions(
    stack: Stack, agent: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "purges", idempotency.PurgeSchedule())
    owner = f"gone-{uuid.uuid4().hex[:6]}"
    with Session(stack.engine) as session:
        session.add(key_row(owner, "old", timedelta(hours=25)))
        session.add(key_row(owner, "young", timedelta(hours=23)))
        session.commit()
    assert (await agent.submit(key=uuid.uuid4().hex)).status_code == 201
    assert keys_of(stack, owner) == {"young"}
    # At most one purge per period: a key expiring now waits for the next one.
    with Session(stack.engine) as session:
        session.add(key_row(owner, "old again", timedelta(hours=25)))
        session.commit()
    assert (await agent.submit(key=uuid.uuid4().hex)).status_code == 201
    assert keys_of(stack, owner) == {"young", "old again"}
    assert idempotency.purge_expired(stack.engine) >= 1
    assert keys_of(stack, owner) == {"young"}


def test_purges_are_due_once_per_period_per_database(stack: Stack) -> None:
    schedule = idempotency.PurgeSchedule(timedelta(minutes=10))
    assert schedule.due(stack.engine, clock=0.0)
    assert not schedule.due(stack.engine, clock=599.0)
    assert schedule.due(stack.engine, clock=600.0)
    other = create_engine("sqlite://")  # another database has its own period
    assert schedule.due(other, clock=601.0) and not schedule.due(other, clock=602.0)
    other.dispose()


async def test_a_key_reused_after_its_purge_makes_a_new_request(stack: Stack) -> None:
    """Purged keys must not lead back to their old request (an id derived from the key alone
    would: the same workflow id, still running)."""
    sub = f"agent-{uuid.uuid4().hex[:8]}"
    agent = stack.caller("agent", VILLAGE, sub)
    key = uuid.uuid4().hex
    first = await agent.submit(key=key)
    assert first.status_code == 201
    with Session(stack.engine) as session:
        row = session.get(IdempotencyKey, (sub, key))
        assert row is not None
        row.created_at = utc_now() - timedelta(hours=25)
        session.add(row)
        session.commit()
    assert idempotency.purge_expired(stack.engine) >= 1
    again = await agent.submit(key=key)
    assert again.status_code == 201, again.text
    assert again.json()["id"] != first.json()["id"]
    assert (await agent.submit(key=key)).json()["id"] == again.json()["id"]


def test_purge_keeps_what_is_younger_than_a_day(stack: Stack) -> None:
    owner = f"edge-{uuid.uuid4().hex[:6]}"
    now = utc_now()
    with Session(stack.engine) as session:
        session.add(key_row(owner, "a day and a second", timedelta(hours=24, seconds=1)))
        session.add(key_row(owner, "a minute short of a day", timedelta(hours=23, minutes=59)))
        session.commit()
    idempotency.purge_expired(stack.engine, now)
    assert keys_of(stack, owner) == {"a minute short of a day"}
