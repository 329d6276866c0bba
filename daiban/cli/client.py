"""A small typed client of the daiban HTTP API (docs/api.md), for the CLI and the simulator.

A call is data: the functions below (``submit``, ``act``, ``list_requests`` …) each build a
``Call`` — method, path, query, body, and optionally the bearer token of one caller — and either
client sends it: ``ApiClient`` (blocking, on the standard library, for the CLI) or
``AsyncApiClient`` (httpx, for the simulator, which acts as many agents and staff at once). So
the two clients cannot disagree on a path.

Failures are two named types: ``ApiUnreachable`` when no connection could be made (nothing was
sent), ``ApiError`` for an answer with an error status, carrying the RFC 9457 problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

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


# --- the calls of docs/api.md ----------------------------------------------------------------


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


def rate(
    request_id: str,
    score: int,
    comment: str | None = None,
    tiers: dict[str, int] | None = None,
    code: str | None = None,
) -> Call:
    """The resident's rating; ``tiers`` the tiers rated, ``code`` the confirmation code texted to
    the resident (without it, an agent's rating is recorded as unconfirmed)."""
    body: JSON = {"score": score}
    if comment is not None:
        body["comment"] = comment
    if tiers:
        body["tiers"] = tiers
    if code is not None:
        body["confirmation_code"] = code
    return Call("POST", f"/v1/requests/{request_id}/rating", body=body)


def rating_code(request_id: str) -> Call:
    """Text a one-time confirmation code to the resident's phone."""
    return Call("POST", f"/v1/requests/{request_id}/rating-code")


def rating_link(request_id: str) -> Call:
    """A single-use rating link's token for the resident (what the agent's QR code shows)."""
    return Call("POST", f"/v1/requests/{request_id}/rating-link")


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


def _headers(call: Call, token: str | None) -> dict[str, str]:
    headers = dict(call.headers)
    bearer = call.token or token
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    return headers


def _answer(status: int, reason: str, content: bytes) -> JSON:
    """The JSON body of a success, or ``ApiError`` with the problem (or a stand-in for one)."""
    text = content.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if 200 <= status < 300:
        if isinstance(body, dict):
            return body
        return {"items": body} if isinstance(body, list) else {"text": text}
    if not isinstance(body, dict):
        lines = text.strip().splitlines()
        body = {"title": reason, "detail": lines[0][:200] if lines else ""}
    raise ApiError(status, body)


class ApiClient:
    """Blocking client on the standard library: ``ApiClient(url, token).send(get_request(id))``.

    One command makes one or two calls, so a connection per call costs nothing that matters,
    while importing an HTTP library would cost the command a third of a second.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiUnreachable(f"not an http(s) URL: {base_url!r}")
        self._parts = parts

    def send(self, call: Call) -> JSON:
        parts = self._parts
        connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        connection = connection_class(parts.hostname or "", parts.port, timeout=self.timeout)
        headers = _headers(call, self.token) | {"Accept": "application/json"}
        body = None
        if call.body is not None:
            body = json.dumps(call.body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        path = parts.path.rstrip("/") + call.path
        if call.params:
            path += "?" + urlencode(call.params)
        try:
            try:
                connection.request(call.method, path, body=body, headers=headers)
            except (ConnectionError, TimeoutError, OSError) as error:
                reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
                raise ApiUnreachable(f"cannot connect to {self.base_url}: {reason}") from error
            try:
                response = connection.getresponse()
                content = response.read()
            except (HTTPException, OSError) as error:
                detail = str(error) or repr(error)
                raise ApiError(0, {"title": "No answer from the API", "detail": detail}) from error
        finally:
            connection.close()
        return _answer(response.status, response.reason, content)

    def close(self) -> None:
        """Nothing is kept open between calls."""

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
        import httpx  # only the simulator needs it: the other commands start without it

        self.base_url = base_url.rstrip("/")
        self.token = token
        limits = httpx.Limits(max_connections=max_connections)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, limits=limits)

    async def send(self, call: Call) -> JSON:
        import httpx

        request = self._http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.body,
            headers=_headers(call, self.token),
        )
        try:
            response = await self._http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            reason = str(error).strip() or type(error).__name__
            raise ApiUnreachable(f"cannot connect to {self.base_url}: {reason}") from error
        except httpx.TransportError as error:
            detail = str(error) or repr(error)
            raise ApiError(0, {"title": "No answer from the API", "detail": detail}) from error
        return _answer(response.status_code, response.reason_phrase, response.content)

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
