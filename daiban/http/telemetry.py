"""Request context and metrics: the request id on every response and log line, Prometheus metrics.

``RequestContext`` is plain ASGI middleware (no per-request task, unlike ``BaseHTTPMiddleware``):
it accepts the client's ``X-Request-ID`` when it is sane or makes one, binds it into structlog's
contextvars for every log line of the request, refuses a body over the limit (a declared one before
the app reads it, a chunked one as it arrives), times the request by route template and tells the
client its server time (``Server-Timing: app;dur=<ms>``; not on the lookups without login), and
writes one access line without the query string or body (they may hold personal data). That line
is the only one per request: uvicorn's own access log is switched off when the middleware is
built, however the server was started (``daiban serve``, or ``uvicorn api:app`` in the deployment
files).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daiban.core.logs import get_logger
from daiban.http.problems import PayloadTooLarge

REQUEST_ID_HEADER = "X-Request-ID"
SERVER_TIMING_HEADER = "Server-Timing"
# Lookups without login (progress, rating links and codes, notice verification, login).
UNTIMED_PATHS = ("/v1/public/", "/v1/notices/verify", "/progress", "/pj/", "/rate/", "/login")
# Label values must be bounded: any token is a valid HTTP method, and each new one would be a new
# time series for as long as the process lives.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = get_logger("daiban.api")


class Metrics:
    """The API's metrics in a registry of their own (several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "daiban_http_request_duration_seconds",
            "API latency by route template",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.actions = Counter(
            "daiban_actions",
            "Actions taken through the API, by action and outcome",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.stages = Gauge(
            "daiban_requests",
            "Requests in the read model by stage",
            ["stage"],
            registry=self.registry,
        )
        self.escalations = Gauge(
            "daiban_escalations",
            "Escalations recorded in the supervision ledger by level",
            ["level"],
            registry=self.registry,
        )

        self.exports = Gauge(
            "daiban_export_records",
            "Records for the province's rating system by status: pending is the backlog, sent "
            "the records exported, failed those given up (docs/export.md)",
            ["status"],
            registry=self.registry,
        )

    def render(
        self,
        stages: dict[str, int],
        escalations: dict[str, int],
        exports: dict[str, int] | None = None,
    ) -> bytes:
        """The text exposition, with the gauges set from the database's current counts."""
        for gauge, label, counts in (
            (self.stages, "stage", stages),
            (self.escalations, "level", escalations),
            (self.exports, "status", exports or {}),
        ):
            gauge.clear()
            for value, count in counts.items():
                gauge.labels(**{label: value}).set(count)
        return generate_latest(self.registry)


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        codec_max_body_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.app = app
        self.metrics = metrics
        # Starlette builds the middleware at the first request, after uvicorn configured its
        # loggers: switching its access logger off here holds for any way the server started.
        logging.getLogger("uvicorn.access").disabled = True
        self.max_body_bytes = max_body_bytes
        self.codec_max_body_bytes = codec_max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                answer = MutableHeaders(scope=message)
                answer[REQUEST_ID_HEADER] = request_id
                # The server's own time to the answer (a browser's developer tools show it, and
                # the bench holds the pages to it): up to the response's start, which for every
                # page and JSON answer comes after its body is made. Not on the paths anyone may
                # call without login with a number, a code or a password to try: there it would
                # time the lookup more precisely than the round trip does.
                if not scope.get("path", "").startswith(UNTIMED_PATHS):
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    answer.append(SERVER_TIMING_HEADER, f"app;dur={elapsed_ms:.1f}")
            await send(message)

        # The codec endpoint carries whole workflow states (long histories, notes in Chinese).
        codec = scope.get("path", "").startswith("/codec/")
        limit = self.codec_max_body_bytes if codec else self.max_body_bytes
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException, so that FastAPI's body reader lets it through to the handler.
                raise HTTPException(413, f"the body must be at most {limit} bytes")
            return message

        try:
            if _declared_length(headers) > limit:
                problem = PayloadTooLarge(f"the body must be at most {limit} bytes")
                await problem.response(scope["path"])(scope, receive, send_with_id)
            else:
                await self.app(scope, receive_within_limit, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = method_label(scope["method"])
            self.metrics.latency.labels(method, route, str(status)).observe(elapsed)
            log.info(
                "http request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


def _declared_length(headers: Headers) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0


def _route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/requests/{id}``): bounded label values, no ids.

    FastAPI's own routes put themselves in the scope; Starlette's plain routes (``/docs``,
    ``/openapi.json``) leave only their endpoint, which names the route among the app's."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for route in getattr(scope.get("app"), "routes", ()):
            if getattr(route, "endpoint", None) is endpoint:
                path = getattr(route, "path", None)
                if isinstance(path, str):
                    return path
    return "unmatched"
