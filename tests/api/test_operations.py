"""Operations: liveness, readiness, metrics, the request id, the OpenAPI document, and problems
for what no route handles."""

from __future__ import annotations

import re
import sys
import time

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from api import SWITCH_INTERVAL_SECONDS, create_app
from daiban.http.telemetry import Metrics
from daiban.store.db import make_engine
from models.db import ExportRow
from tests.api.conftest import Caller, Stack, make_settings, serve


async def test_healthz_and_readyz(stack: Stack) -> None:
    assert (await stack.http.get("/healthz")).json() == {"status": "ok", "checks": {}}
    response = await stack.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"temporal": "ok", "database": "ok"}}


async def test_readyz_reports_what_is_down(stack: Stack, database_url: str) -> None:
    settings = make_settings(database_url, "127.0.0.1:1")  # nothing listens on port 1
    broken_db = make_engine("sqlite:////proc/no-such-dir/daiban.db")
    started = time.monotonic()
    app = create_app(settings, engine=broken_db)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        assert time.monotonic() - started < 15, "the API starts even when Temporal is down"
        response = await http.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["temporal"].startswith("unreachable")
        assert "unreachable" in body["checks"]["database"]
        assert (await http.get("/healthz")).status_code == 200
        # A call that needs Temporal is a 503 problem, not a hang or a 500.
        token = stack.token("agent", "370285004001")
        response = await http.post(
            "/v1/requests/abc/actions",
            json={"action": "handoff"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
    broken_db.dispose()


async def test_metrics(stack: Stack, agent: Caller, staff: Caller) -> None:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    await staff.act(rid, "approve")  # 409
    await agent.get(f"/v1/requests/{rid}")
    response = await stack.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(r'daiban_requests\{stage="township_review"\} [1-9]', text)
    assert re.search(r'daiban_actions_total\{action="handoff",outcome="ok"\} [1-9]', text)
    assert 'daiban_actions_total{action="approve",outcome="action-not-allowed"}' in text
    assert "# TYPE daiban_escalations gauge" in text
    # The export backlog as the outbox holds it (requests other tests closed wait there: the
    # test stack runs no exporter).
    with Session(stack.engine) as session:
        pending = session.exec(
            select(func.count()).select_from(ExportRow).where(col(ExportRow.status) == "pending")
        ).one()
    assert f'daiban_export_records{{status="pending"}} {float(pending)}' in text
    assert re.search(
        r'daiban_http_request_duration_seconds_count\{method="GET",'
        r'route="/v1/requests/\{id\}",status="200"\} [1-9]',
        text,
    )
    assert rid not in text  # label values are route templates, never ids


async def test_request_id_is_echoed_or_made(stack: Stack, agent: Caller) -> None:
    response = await stack.http.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    made = (await stack.http.get("/healthz")).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    insane = await stack.http.get("/healthz", headers={"X-Request-ID": "x" * 300})
    assert insane.headers["X-Request-ID"] != "x" * 300
    # Errors carry it too.
    response = await stack.http.get("/v1/requests", headers={"X-Request-ID": "trace-43"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (401, "trace-43")


async def test_every_answer_tells_its_server_time(stack: Stack, agent: Caller) -> None:
    for path, caller in (("/healthz", None), ("/v1/requests", None), ("/v1/catalog", agent)):
        started = time.perf_counter()
        if caller is None:
            response = await stack.http.get(path)  # the problem of a 401 carries it too
        else:
            response = await caller.get(path)
        elapsed_ms = (time.perf_counter() - started) * 1000
        timing = re.fullmatch(r"app;dur=(\d+\.\d)", response.headers["Server-Timing"])
        assert timing is not None, response.headers["Server-Timing"]
        # The server's part of the answer, measured inside it: never more than the whole.
        assert 0 <= float(timing[1]) <= elapsed_ms
    # Not where anyone may try numbers or codes without login: the round trip's noise stays.
    for path in ("/v1/public/progress?number=370285-20261201-0001&id_last4=0024", "/progress"):
        assert "Server-Timing" not in (await stack.http.get(path)).headers, path


async def test_the_api_shortens_the_gil_switch_interval(stack: Stack) -> None:
    """Its database reads run in threads beside a busy event loop (api.SWITCH_INTERVAL_SECONDS);
    a process that embeds the app gets its own interval back when the app stops."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # the interpreter's default, whatever ran before in this process
    try:
        app = create_app(stack.settings, engine=stack.engine, client=stack.client)
        async with serve(app):
            assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_SECONDS)
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(before)


async def test_request_id_is_on_the_log_lines(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    await stack.http.get("/healthz", headers={"X-Request-ID": "trace-log-1"})
    lines = [r for r in caplog.records if "trace-log-1" in str(r.msg)]
    assert lines, "the access line of the request carries its id"


async def test_unknown_routes_and_methods_are_problems(stack: Stack) -> None:
    response = await stack.http.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not Found"
    response = await stack.http.delete("/v1/catalog")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


ENDPOINTS = {
    ("get", "/v1/catalog"),
    ("get", "/v1/offices"),
    ("post", "/v1/requests"),
    ("get", "/v1/requests"),
    ("get", "/v1/requests/{id}"),
    ("post", "/v1/requests/{id}/actions"),
    ("post", "/v1/requests/{id}/rating"),
    ("post", "/v1/requests/{id}/rating-link"),
    ("post", "/v1/requests/{id}/rating-code"),
    ("get", "/v1/queue"),
    ("get", "/v1/supervision/events"),
    ("get", "/v1/supervision/verify"),
    ("get", "/v1/supervision/access"),
    ("get", "/v1/stats"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("post", "/codec/encode"),
    ("post", "/codec/decode"),
    ("get", "/v1/requests/{id}/notices"),
    ("get", "/v1/notices/{number}"),
    ("get", "/v1/notices/verify"),
    ("get", "/v1/public/progress"),
    ("get", "/v1/supervision/orders"),
    ("get", "/v1/public/stats"),
    ("get", "/v1/public/stats.csv"),
    ("get", "/v1/stats/ratings"),
    ("get", "/v1/public/ratings.csv"),
}
# Read without a login: no 401 or 403 to document, no bearer token.
PUBLIC = {
    "/v1/notices/verify", "/v1/public/progress", "/v1/public/stats", "/v1/public/stats.csv",
    "/v1/public/ratings.csv",
}  # fmt: skip


async def test_openapi_documents_every_endpoint_and_its_problems(stack: Stack) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    operations = {
        (method, path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == ENDPOINTS
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert {"errors", "allowed_actions"} <= set(problem["properties"])
    for (method, path), operation in operations.items():
        if not path.startswith("/v1/"):
            continue
        documented = operation["responses"]
        if path in PUBLIC:
            assert "422" in documented and not operation.get("security"), path
            continue
        for status in ("401", "403", "422") if path != "/v1/catalog" else ("401", "403"):
            schema = documented[status]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)
        if "{id}" in path:
            assert "404" in documented, path
        assert operation.get("security"), f"{method} {path} documents its bearer token"
    assert "409" in operations[("post", "/v1/requests/{id}/actions")]["responses"]
    state = document["components"]["schemas"]["RequestOut"]["properties"]
    assert {"stage", "status", "deadline", "resident", "history", "allowed_actions"} <= set(state)
    history = document["components"]["schemas"]["HistoryOut"]["properties"]
    assert {"from", "to"} <= set(history)


def test_the_export_gauge_shows_the_backlog_and_what_was_given_up() -> None:
    text = Metrics().render({}, {}, {"pending": 7, "sent": 120, "failed": 2}).decode()
    assert 'daiban_export_records{status="pending"} 7.0' in text
    assert 'daiban_export_records{status="sent"} 120.0' in text
    assert 'daiban_export_records{status="failed"} 2.0' in text
