"""Problem details (RFC 9457): the API's few named error types, and the one place that maps
Temporal failures to them (never by matching message strings: by error type and status code).

Every error leaves the API as ``application/problem+json`` with ``type``, ``title``, ``status`` and
``detail``; a 422 adds ``errors`` (``[{"field", "message"}]``), a 409 adds ``allowed_actions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi.responses import JSONResponse
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from daiban.store.errors import Contended, InvalidQuery, StoreError
from workflows.timeouts import DEADLINES_UNAVAILABLE

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:daiban:problem:"
BEARER_CHALLENGE = 'Bearer realm="daiban"'


class Problem(Exception):
    """An error with an HTTP meaning. Subclasses fix ``status``, ``slug`` and ``title``."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        allowed_actions: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.allowed_actions = allowed_actions
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        if self.allowed_actions is not None:
            body["allowed_actions"] = self.allowed_actions
        body.update(self.extra)
        return body

    def response(self, instance: str | None = None) -> JSONResponse:
        return JSONResponse(
            self.body(instance),
            status_code=self.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=self.headers or None,
        )


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str, *, invalid: bool = True) -> None:
        # RFC 6750 §3: a missing token gets the bare challenge, a bad one says invalid_token.
        challenge = BEARER_CHALLENGE + (', error="invalid_token"' if invalid else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not permitted for this role"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class ActionNotAllowed(Problem):
    status, slug, title = 409, "action-not-allowed", "Action not allowed now"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class InvalidInput(Problem):
    status, slug, title = 422, "invalid-input", "Invalid input"

    def __init__(self, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail, errors=errors)


class RateLimited(Problem):
    status, slug, title = 429, "rate-limited", "Too many requests"


class Unavailable(Problem):
    status, slug, title = 503, "unavailable", "Service temporarily unavailable"


# When a client may try a 503 again (RFC 9110 §10.2.3): soon, a dependency is briefly away.
RETRY_LATER = {"Retry-After": "5"}


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, [field_error(field, message)])


def not_found() -> NotFound:
    # The same words whether the request does not exist or lies outside the caller's scope.
    return NotFound("no such request")


def from_store(error: StoreError) -> Problem:
    """The store's errors, mapped once: a query it cannot use is a 422, contention a 503."""
    if isinstance(error, InvalidQuery):
        return invalid(error.field, error.message)
    if isinstance(error, Contended):
        return Unavailable(str(error))
    return Problem("the request could not be completed")


def from_temporal(error: BaseException) -> Problem:
    """Map a failed update on a known request (the read model has it, so it exists)."""
    if isinstance(error, WorkflowUpdateFailedError) and isinstance(error.cause, ApplicationError):
        cause = error.cause
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        if cause.type == "Forbidden":
            return Forbidden(cause.message)
        if cause.type == "InvalidAction":
            return InvalidInput(cause.message, list(details.get("errors") or []))
        if cause.type == DEADLINES_UNAVAILABLE:
            return Unavailable(cause.message, headers=RETRY_LATER)
        if cause.type == "ActionNotAllowed":
            return ActionNotAllowed(
                cause.message,
                allowed_actions=list(details.get("allowed_actions") or []),
                extra={"stage": details.get("stage")},
            )
    if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
        # The workflow has completed (or is past retention): the request is closed.
        return ActionNotAllowed("the request is closed", allowed_actions=[])
    if isinstance(error, RPCError | RPCTimeoutOrCancelledError):
        return Unavailable("the workflow service is unavailable; retry later", headers=RETRY_LATER)
    return Problem("the action could not be completed")


# --- OpenAPI -----------------------------------------------------------------------------------

PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
_DESCRIPTIONS = {
    401: "No token, or a bad one (expired, malformed, wrongly signed, unknown role or office)",
    403: "The caller's role may never do this",
    404: "No such request, or outside the caller's scope",
    409: "Not allowed now; `allowed_actions` says what is",
    413: "Body over the size limit",
    422: "Invalid input; `errors` lists the fields",
    429: "Too many submissions; see Retry-After",
    503: "A dependency (Temporal, the database) is unavailable",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems an endpoint can answer (the schema is in components)."""
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
    return {code: {"description": _DESCRIPTIONS[code], "content": content} for code in statuses}


def http_problem(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A problem for a plain HTTP error (unknown route, wrong method): ``about:blank`` typed."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    return JSONResponse(
        {**body, "detail": detail},
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers) if headers else None,
    )
