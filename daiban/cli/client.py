"""A small typed client of the daiban HTTP API (docs/api.md), for the CLI and the simulator.

A call is data: the functions below (``submit``, ``act``, ``list_requests`` …) each build a
``Call`` — method, path, query, body, and optionally the bearer token of one caller — and either
client sends it: ``ApiClient`` (blocking, for the CLI) or ``AsyncApiClient`` (for the simulator,
which acts as many agents and staff at once). So the two clients cannot disagree on a path.

Failures are two named types: ``ApiUnreachable`` when no connection could be made (nothing was
sent), ``ApiError`` for an answer with an error status, carrying the RFC 9457 problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx

from daiban.run.addresses import DEFAULT_API_URL

JSON = dict[str, Any]
DEFAULT_TIMEOUT = 30.0


class ApiUnreachable(Exception):
    """No connection to the API could be made; the message is one line."""


class ApiError(Exception):
    """The API answered with an error status (``status`` 0: it accepted the connection but gave
    no usable answer). ``problem`` is the RFC 9457 body."""

    def __init__(self, status: int, problem: JSON) -> None:
        self.status = status
        self.problem = problem
        super().__init__(self.summary())

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or "Error")

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or "")

    @property
    def errors(self) -> list[JSON]:
        errors = self.problem.get("errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    @property
    def allowed_actions(self) -> list[str] | None:
        allowed = self.problem.get("allowed_actions")
        return [str(a) for a in allowed] if isinstance(allowed, list) else None

    def summary(self) -> str:
        status = f"{self.status} " if self.status else ""
        detail = f": {self.detail}" if self.detail and self.detail != self.title else ""
        return f"{status}{self.title}{detail}"

    def lines(self) -> list[str]:
        """The problem in a few lines: the summary, each field error, the allowed actions."""
        lines = [self.summary()]
        lines += [f"  {e.get('field', '?')}: {e.get('message', '')}" for e in self.errors]
        if self.allowed_actions is not None:
            lines.append(f"  allowed actions now: {', '.join(self.allowed_actions) or 'none'}")
        return lines


@dataclass(frozen=True)
class Call:
    """One API call. ``token`` overrides the client's token (the simulator acts as many people)."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: JSON | None = None
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    def as_(self, token: str) -> Call:
        """The same call made with another caller's token."""
        return Call(self.method, self.path, self.params, self.body, self.headers, token)


def _params(**values: object) -> dict[str, str]:
    """Query parameters without the unset ones; booleans as ``true``/``false``."""
    params: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        params[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return params


# --- the calls of API.md -----------------------------------------------------------------------


def readyz() -> Call:
    return Call("GET", "/readyz")


def catalog() -> Call:
    return Call("GET", "/v1/catalog")


def offices(tier: str | None = None, parent: str | None = None) -> Call:
    return Call("GET", "/v1/offices", _params(tier=tier, parent=parent))


def submit(
    item: str,
    resident: dict[str, str],
    materials: list[str],
    note: str | None = None,
    channel: str = "proxy_room",
    idempotency_key: str | None = None,
) -> Call:
    body: JSON = {"item": item, "resident": resident, "materials": materials, "channel": channel}
    if note is not None:
        body["note"] = note
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return Call("POST", "/v1/requests", body=body, headers=headers)


def get_request(request_id: str) -> Call:
    return Call("GET", f"/v1/requests/{request_id}")


def act(request_id: str, action: str, **fields: object) -> Call:
    """``{"action": action, **fields}``; unset (None) fields are left out."""
    body: JSON = {"action": action}
    body.update({name: value for name, value in fields.items() if value is not None})
    return Call("POST", f"/v1/requests/{request_id}/actions", body=body)


def rate(request_id: str, score: int, comment: str | None = None) -> Call:
    body: JSON = {"score": score}
    if comment is not None:
        body["comment"] = comment
    return Call("POST", f"/v1/requests/{request_id}/rating", body=body)


def list_requests(
    *,
    stage: str | None = None,
    office: str | None = None,
    township: str | None = None,
    item: str | None = None,
    overdue: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call:
    return Call(
        "GET",
        "/v1/requests",
        _params(
            stage=stage,
            office=office,
            township=township,
            item=item,
            overdue=overdue,
            created_from=created_from,
            created_to=created_to,
            limit=limit,
            cursor=cursor,
        ),
    )


def queue(limit: int | None = None, cursor: str | None = None) -> Call:
    return Call("GET", "/v1/queue", _params(limit=limit, cursor=cursor))


def stats(
    township: str | None = None, date_from: str | None = None, date_to: str | None = None
) -> Call:
    # ``from`` is a Python keyword: the query names go through a dict.
    params = _params(township=township, **{"from": date_from, "to": date_to})
    return Call("GET", "/v1/stats", params)


def events(
    *,
    request: str | None = None,
    level: str | None = None,
    office: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call:
    params = _params(
        request=request, level=level, office=office, since=since, limit=limit, cursor=cursor
    )
    return Call("GET", "/v1/supervision/events", params)


def verify(request: str | None = None) -> Call:
    return Call("GET", "/v1/supervision/verify", _params(request=request))


# --- the clients -------------------------------------------------------------------------------


def _request(
    base: httpx.Client | httpx.AsyncClient, call: Call, token: str | None
) -> httpx.Request:
    headers = dict(call.headers)
    bearer = call.token or token
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    return base.build_request(
        call.method, call.path, params=call.params, json=call.body, headers=headers
    )


def _answer(response: httpx.Response) -> JSON:
    """The JSON body of a success, or ``ApiError`` with the problem (or a stand-in for one)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        if isinstance(body, dict):
            return body
        return {"items": body} if isinstance(body, list) else {"text": response.text}
    if not isinstance(body, dict):
        text = response.text.strip().splitlines()
        body = {"title": response.reason_phrase, "detail": text[0][:200] if text else ""}
    raise ApiError(response.status_code, body)


def _transport_error(base_url: str, error: httpx.TransportError) -> Exception:
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        reason = str(error).strip() or type(error).__name__
        return ApiUnreachable(f"cannot connect to {base_url}: {reason}")
    return ApiError(0, {"title": "No answer from the API", "detail": str(error) or repr(error)})


class ApiClient:
    """Blocking client: ``ApiClient(url, token).send(get_request(id))``."""

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def send(self, call: Call) -> JSON:
        try:
            response = self._http.send(_request(self._http, call, self.token))
        except httpx.TransportError as error:
            raise _transport_error(self.base_url, error) from error
        return _answer(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncApiClient:
    """Asynchronous client sharing one connection pool among many callers (``Call.token``)."""

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = 32,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        limits = httpx.Limits(max_connections=max_connections)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, limits=limits)

    async def send(self, call: Call) -> JSON:
        try:
            response = await self._http.send(_request(self._http, call, self.token))
        except httpx.TransportError as error:
            raise _transport_error(self.base_url, error) from error
        return _answer(response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
