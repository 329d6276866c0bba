"""Console sessions: a signed cookie naming the person (the same claims as a bearer token) and the
CSRF token every form must send back.

The cookie holds ``sub``, ``role``, ``office`` and ``csrf``, signed with the API's secret under a
salt of its own (a session cookie is never a valid bearer token, nor the reverse) and stamped with
its time: older than the session lifetime (``DAIBAN_JWT_TTL_SECONDS``), it is refused. Claims are
checked again on every request by ``principal_from_claims``, as a token's are. HttpOnly (no script
reads it), SameSite=Lax (no other site's form posts with it), Secure outside development.

A visitor without a session still gets a cookie holding only a CSRF token, so that the login form
is protected too; logging in issues a new token (a token planted before login is worthless after).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from daiban.core.settings import Settings
from daiban.domain.offices import OfficeTree
from daiban.domain.scope import Principal, principal_from_claims

COOKIE: Final = "daiban_console"
SALT: Final = "daiban.console.session"
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    csrf: str
    principal: Principal | None = None


class CsrfRejected(Exception):
    """A form or script posted without the session's CSRF token."""


class Sessions:
    """Reads and writes the session cookie; one per app."""

    def __init__(self, settings: Settings) -> None:
        self._serializer = URLSafeTimedSerializer(settings.jwt_secret.get_secret_value(), salt=SALT)
        self.max_age = settings.jwt_ttl_seconds
        self.secure = settings.environment != "development"

    def read(self, request: Request, offices: OfficeTree) -> Session:
        raw = request.cookies.get(COOKIE)
        data: Any = None
        if raw:
            try:
                data = self._serializer.loads(raw, max_age=self.max_age)
            except (SignatureExpired, BadSignature):
                data = None
        if not isinstance(data, dict) or not isinstance(data.get(CSRF_FIELD), str):
            return Session(csrf=secrets.token_urlsafe(24))
        principal = None
        if "sub" in data:
            try:
                principal = principal_from_claims(data, offices)
            except ValueError:
                principal = None  # an office or role that no longer exists: log in again
        return Session(csrf=data[CSRF_FIELD], principal=principal)

    def write(self, response: Response, session: Session) -> None:
        data: dict[str, str] = {CSRF_FIELD: session.csrf}
        if session.principal is not None:
            p = session.principal
            data |= {"sub": p.sub, "role": p.role, "office": p.office}
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(data),
            max_age=self.max_age,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)


def session_cookie(settings: Settings, principal: Principal) -> str:
    """The value of a signed-in session cookie, as ``Sessions.write`` makes it (for load tools
    that play people without going through a login)."""
    response = Response()
    Sessions(settings).write(response, new_session(principal))
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].removeprefix(f"{COOKIE}=")


def new_session(principal: Principal | None) -> Session:
    return Session(csrf=secrets.token_urlsafe(24), principal=principal)


def check_csrf(session: Session, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise CsrfRejected("the form is stale or was not sent from this console")
