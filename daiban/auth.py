"""Bearer tokens: verifying them into a ``Principal``, and minting them for development.

A token is a JWT with ``sub``, ``role``, ``office`` and ``exp``. Only the configured algorithm is
accepted: HS256 with ``DAIBAN_JWT_SECRET``, or RS256 with keys from ``DAIBAN_JWT_JWKS_URL`` when
that is set (then HS256 is refused, so a leaked development secret cannot mint production tokens).
``alg: none`` and every other algorithm are refused. The role must be one of the API's roles
(never ``system``, which the workflow trusts blindly) and the office must exist in
``daiban.offices`` at the tier the role works at; anything else is a 401.

A ``rating_link`` token carries ``req`` (one request id) and lets a resident rate that request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Final

import jwt

from daiban.offices import office_index
from daiban.problems import Unauthorized, Unavailable
from daiban.settings import Settings
from models.contracts import Actor, Role

HS256: Final = "HS256"
RS256: Final = "RS256"
RATING_LINK: Final = "rating_link"
LEEWAY_SECONDS: Final = 30
SUB_MAX: Final = 128
STAFF_ROLES: Final = frozenset({Role.TOWNSHIP_STAFF, Role.CITY_STAFF})
# The tiers of office each role works at; a token whose office is at another tier is forged.
ROLE_TIERS: Final[dict[str, frozenset[str]]] = {
    Role.AGENT: frozenset({"village"}),
    Role.TOWNSHIP_STAFF: frozenset({"township"}),
    Role.CITY_STAFF: frozenset({"city"}),
    Role.SUPERVISOR: frozenset({"township", "city"}),
    Role.ADMIN: frozenset({"village", "township", "city"}),
    RATING_LINK: frozenset({"village"}),
}
REQUIRED_CLAIMS: Final = ["exp", "sub", "role", "office"]


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    office: str
    request: str | None = None  # the one request a rating link is for

    def actor(self) -> Actor:
        # A rating link rates on the resident's behalf, as the village agent would.
        role = Role.AGENT if self.role == RATING_LINK else self.role
        return Actor(sub=self.sub, role=role, office=self.office)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The principal these claims name; ValueError (one line) when they name none."""
    sub, role, office, request = (claims.get(k) for k in ("sub", "role", "office", "req"))
    if not isinstance(sub, str) or not sub.strip() or len(sub) > SUB_MAX:
        raise ValueError("sub must be a non-empty string")
    if not sub.isprintable():  # it reaches text columns (ledger actor, idempotency keys)
        raise ValueError("sub must not contain control characters")
    if not isinstance(role, str) or role not in ROLE_TIERS:
        raise ValueError(f"unknown role {role!r}")
    known = office_index().get(office) if isinstance(office, str) else None
    if not isinstance(office, str) or known is None:
        raise ValueError(f"unknown office {office!r}")
    if known.tier not in ROLE_TIERS[role]:
        raise ValueError(f"a {role} cannot work at a {known.tier} office")
    if role == RATING_LINK and not isinstance(request, str):
        raise ValueError("a rating link must name its request (req)")
    return Principal(
        sub=sub, role=role, office=office, request=request if role == RATING_LINK else None
    )


class TokenVerifier:
    """Verifies bearer tokens with the settings' algorithm; built once per app."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret.get_secret_value()
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._algorithm = RS256 if self._jwks else HS256

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        if header.get("alg") != self._algorithm:
            raise Unauthorized(f"token algorithm must be {self._algorithm}")
        key: Any = self._secret
        if self._jwks is not None:
            key = await self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                options={"require": REQUIRED_CLAIMS},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("token signature is invalid") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        try:
            return principal_from_claims(claims)
        except ValueError as error:
            raise Unauthorized(str(error)) from None

    async def _signing_key(self, token: str) -> Any:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches over blocking urllib (and caches): keep it off the event loop.
            signing = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError:
            raise Unavailable("the token key set cannot be fetched; retry later") from None
        except jwt.PyJWTError:
            raise Unauthorized("no key of the key set matches the token") from None
        return signing.key


def mint_token(
    settings: Settings,
    sub: str,
    role: str,
    office: str,
    ttl_seconds: int | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """An HS256 token for development (``daiban token``) and for rating links.

    Raises ValueError with one line when the claims could not be verified (unknown role or office,
    wrong tier). Tokens minted here are refused when the API is configured with a JWKS URL.
    """
    extra = dict(extra or {})
    principal_from_claims({**extra, "sub": sub, "role": role, "office": office})
    now = int(time.time())
    ttl = settings.jwt_ttl_seconds if ttl_seconds is None else ttl_seconds
    payload = {**extra, "sub": sub, "role": role, "office": office, "iat": now, "exp": now + ttl}
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm=HS256)
