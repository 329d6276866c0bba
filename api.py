"""The daiban HTTP API (docs/api.md): thin — validate, build a contract, call Temporal or the
read model, map errors once.

``create_app`` builds the app; tests inject a Temporal client and an engine, production lets the
lifespan make them once. ``app`` is the module-level instance for ``uvicorn api:app``: importing
this module connects to nothing. Routes live in ``daiban/http/routes_*.py``; dependencies in
``daiban/http/deps.py``; every error leaves as ``application/problem+json``
(``daiban/http/problems.py``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from temporalio.client import Client

from daiban.console import router as console_router
from daiban.console import static_files
from daiban.core.logs import configure_logging, get_logger
from daiban.core.settings import Settings, get_settings
from daiban.domain.catalog import catalog_from_settings
from daiban.http.deps import Services, ServicesDep
from daiban.http.guards import Guards
from daiban.http.problems import (
    InvalidInput,
    PayloadTooLarge,
    Problem,
    Unavailable,
    field_error,
    from_store,
    http_problem,
    invalid,
)
from daiban.http.routes_access import router as access_router
from daiban.http.routes_codec import CodecCORS
from daiban.http.routes_codec import router as codec_router
from daiban.http.routes_notices import router as notices_router
from daiban.http.routes_public import router as public_router
from daiban.http.routes_rating import router as rating_router
from daiban.http.routes_requests import router as requests_router
from daiban.http.routes_supervision import router as supervision_router
from daiban.http.telemetry import Metrics, RequestContext
from daiban.store import readmodel
from daiban.store.db import DatabaseUnavailable, check_database, make_engine
from daiban.store.errors import StoreError
from daiban.store.exports import export_counts
from models.actions import ACTIONS
from models.schemas import Health
from models.schemas import Problem as ProblemSchema

log = get_logger("daiban.api")
HEALTH_TIMEOUT = timedelta(seconds=2)
# The interpreter's GIL switch interval in the API's process (the default is 5 ms).
SWITCH_INTERVAL_SECONDS = 0.0005
DESCRIPTION = """The engine of a county's three-tier proxy service for residents.
Authenticate with `Authorization: Bearer <JWT>` (claims `sub`, `role`, `office`, `exp`).
Errors are RFC 9457 `application/problem+json`: `errors` on 422, `allowed_actions` on 409."""


def create_app(
    settings: Settings | None = None,
    *,
    client: Client | None = None,
    engine: Engine | None = None,
) -> FastAPI:
    """The app. A given ``client`` or ``engine`` is used as is and left open at shutdown."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        # Database reads run in worker threads beside the event loop; each round trip hands the
        # GIL back. At the default 5 ms interval a busy loop kept every handback waiting up to
        # 5 ms, so a page of a dozen queries waited longer for the GIL than for the database
        # (BENCHMARKS.md, "Pages at the offered load"). A process that embeds the app (a test,
        # another server) gets its own interval back when the app stops.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        own_engine = engine is None
        services = Services(
            settings=settings,
            engine=engine or make_engine(settings.database_url),
            catalog=catalog_from_settings(settings),
            metrics=metrics,
            client=client,
        )
        app.state.services = services
        if client is None:
            try:
                await services.temporal()
            except Unavailable:
                log.warning("temporal unreachable at start; connecting on first use")
        try:
            yield
        finally:
            sys.setswitchinterval(switch_interval)
            if own_engine:
                services.engine.dispose()

    app = FastAPI(
        title="daiban",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # The console serves /docs from vendored assets (FastAPI's own pages load a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        RequestContext,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        codec_max_body_bytes=settings.codec_max_body_bytes,
    )
    # Outermost, so that the codec's every answer (a 413 too) carries the CORS headers.
    app.add_middleware(CodecCORS, origin=settings.codec_cors_origin)
    app.add_middleware(Guards, settings=settings)
    _add_error_handlers(app)
    app.include_router(requests_router)
    app.include_router(rating_router)
    app.include_router(supervision_router)
    app.include_router(access_router)
    app.include_router(notices_router)
    app.include_router(public_router)
    app.include_router(codec_router)
    app.include_router(_operations_router())
    app.include_router(console_router)
    app.mount("/static", static_files(), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


# --- errors, mapped once -----------------------------------------------------------------------


def _add_error_handlers(app: FastAPI) -> None:
    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return exc.response(request.url.path)

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [_field_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return InvalidInput(detail, errors).response(request.url.path)

    async def http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400:
            # FastAPI's one 400: a body it cannot even decode (not UTF-8, say). Bad input is a 422
            # here, as a body that is not JSON is.
            return invalid("body", "the body must be JSON in UTF-8").response(request.url.path)
        if exc.status_code == 413:
            # A chunked body that outgrew the limit (RequestContext): the same problem type as a
            # body whose declared length is over it.
            return PayloadTooLarge(str(exc.detail)).response(request.url.path)
        return http_problem(exc.status_code, str(exc.detail), exc.headers)

    async def store(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreError)
        return from_store(exc).response(request.url.path)

    async def unexpected(request: Request, exc: Exception) -> Response:
        # The traceback goes to the log (with the request id), never to the client.
        log.error("unhandled error", exc_info=exc)
        return Problem("the server could not complete the request").response(request.url.path)

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(StoreError, store)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(Exception, unexpected)


def _field_error(error: Any) -> dict[str, str]:
    """``("body", "resident", "id_number")`` → ``resident.id_number``; the input is left out (it
    may be personal data)."""
    loc = [str(part) for part in error.get("loc", ())]
    where = loc[1:] if len(loc) > 1 and loc[0] in ("body", "query", "path", "header") else loc
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return field_error(".".join(where) or "body", message)


# --- operations: liveness, readiness, metrics, OpenAPI -------------------------------------------


def _operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz(services: ServicesDep) -> JSONResponse:
        """Readiness: Temporal and the database both answer."""
        checks = {"temporal": await _temporal_check(services), "database": "ok"}
        try:
            await run_in_threadpool(check_database, services.engine)
        except DatabaseUnavailable as error:
            checks["database"] = str(error)
        ready = all(value == "ok" for value in checks.values())
        body = Health(status="ready" if ready else "not_ready", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @router.get("/metrics", response_class=Response)
    async def metrics(services: ServicesDep) -> Response:
        """Prometheus text format."""
        try:
            stages = await services.db(readmodel.stage_counts)
            escalations = await services.db(readmodel.escalation_counts)
            exports = await services.db(export_counts)
        except Exception:  # the scrape still reports the API's own metrics
            log.warning("metrics: read model unavailable")
            stages, escalations, exports = {}, {}, {}
        text = services.metrics.render(stages, escalations, exports)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    return router


async def _temporal_check(services: Services) -> str:
    try:
        client = await asyncio.wait_for(services.temporal(), HEALTH_TIMEOUT.total_seconds())
        healthy = await client.service_client.check_health(timeout=HEALTH_TIMEOUT)
    except Exception as error:
        return f"unreachable: {type(error).__name__}"
    return "ok" if healthy else "not serving"


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, made to say what the API enforces beyond the pydantic models."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = ProblemSchema.model_json_schema()
        _document_actions(schema, components)
        _document_items(schema, components, app)
        metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]
        metrics["content"] = {"text/plain": {"schema": {"type": "string"}}}
        _document_namespace(schema, app)
        payload = components["CodecPayload"]["properties"]
        payload["metadata"]["additionalProperties"] = {"type": "string", "pattern": BASE64}
        payload["data"]["pattern"] = BASE64
        app.openapi_schema = schema
    return app.openapi_schema


# Protobuf's JSON bytes: standard or URL-safe base64, padded or not (never 4n + 1 characters).
BASE64 = r"^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==?)?|[A-Za-z0-9+/_-]{3}=?)?$"


def _document_actions(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """One body schema per action, told apart by ``action``: each lists the fields its action
    requires (the stage/action table), so a generated client cannot send a ``refuse`` without a
    note or a ``rate`` without a score."""
    general = components["ActionIn"]
    variants = {}
    for name, rule in ACTIONS.items():
        properties = dict(general["properties"]) | {"action": {"type": "string", "const": name}}
        for field in rule.required:
            # A required field is also a present one: null and empty do not count.
            properties[field] = _without_null(properties[field])
        title = "Action_" + name
        components[title] = {
            "title": title,
            "description": rule.summary,
            "type": "object",
            "properties": properties,
            "required": ["action", *rule.required],
            "additionalProperties": False,
        }
        variants[name] = f"#/components/schemas/{title}"
    body = schema["paths"]["/v1/requests/{id}/actions"]["post"]["requestBody"]
    body["content"]["application/json"]["schema"] = {
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "action", "mapping": variants},
    }


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` as ``X``; a required list or text is also not empty (the workflow's
    field check refuses ``""`` and ``[]`` as missing)."""
    options = [o for o in field.get("anyOf", [field]) if o.get("type") != "null"]
    present = dict(options[0]) if len(options) == 1 else {"anyOf": options}
    if present.get("type") == "array":
        present["minItems"] = max(1, present.get("minItems", 0))
    if present.get("type") == "string" and "format" not in present:
        present["minLength"] = max(1, present.get("minLength", 0))
    return present


def _document_namespace(schema: dict[str, Any], app: FastAPI) -> None:
    """The codec serves one namespace: ``X-Namespace`` may name only that one."""
    services = getattr(app.state, "services", None)
    namespace = (services.settings if services is not None else get_settings()).temporal_namespace
    for path, operations in schema["paths"].items():
        if not path.startswith("/codec/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "X-Namespace":
                    parameter["schema"] = {"anyOf": [{"type": "string", "enum": [namespace]}]}


def _document_items(schema: dict[str, Any], components: dict[str, Any], app: FastAPI) -> None:
    """A submission names an item of the catalog this API serves: the codes are an enum."""
    services = getattr(app.state, "services", None)
    catalog = services.catalog if services is not None else catalog_from_settings(get_settings())
    components["SubmitIn"]["properties"]["item"]["enum"] = [i.code for i in catalog.items]


app = create_app()
