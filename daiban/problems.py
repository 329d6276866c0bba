"""Problem details (RFC 9457): the API's few named error types, and the one place that maps
Temporal failures to them (never by matching message strings: by error type and status code).

Every error leaves the API as ``application/problem+json`` with ``type``, ``title``, ``status`` and
``detail``; a 422 adds ``errors`` (``[{"field", "message"}]``), a 409 adds ``allowed_actions``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi.responses import JSONResponse
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

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


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, [field_error(field, message)])


def not_found(what: str = "request") -> NotFound:
    # The same words whether the request does not exist or lies outside the caller's scope.
    return NotFound(f"no such {what}")


def is_gone(error: BaseException) -> bool:
    """Temporal no longer has the workflow (never started, or past retention)."""
    return isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND


def is_unreachable(error: BaseException) -> bool:
    """Temporal could not answer now: the caller may fall back to the read model or retry."""
    return isinstance(error, RPCTimeoutOrCancelledError) or (
        isinstance(error, RPCError) and error.status != RPCStatusCode.NOT_FOUND
    )


def from_temporal(error: BaseException) -> Problem:
    """Map a failed update on a known request (the read model has it, so it exists)."""
    if isinstance(error, WorkflowUpdateFailedError) and isinstance(error.cause, ApplicationError):
        cause = error.cause
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        if cause.type == "Forbidden":
            return Forbidden(cause.message)
        if cause.type == "InvalidAction":
            return InvalidInput(cause.message, list(details.get("errors") or []))
        if cause.type == "ActionNotAllowed":
            return ActionNotAllowed(
                cause.message,
                allowed_actions=list(details.get("allowed_actions") or []),
                extra={"stage": details.get("stage")},
            )
    if is_gone(error):
        # The update reached a completed workflow: the request is closed, nothing is allowed.
        return ActionNotAllowed("the request is closed", allowed_actions=[])
    if is_unreachable(error):
        return Unavailable("the workflow service is unavailable; retry later")
    return Problem("the action could not be completed")
