"""Bearer tokens: verifying them into a ``Principal``, and minting them for development.

A token is a JWT with ``sub``, ``role``, ``office`` and ``exp``. Only the configured algorithm is
accepted: HS256 with ``DAIBAN_JWT_SECRET``, or RS256 with keys from ``DAIBAN_JWT_JWKS_URL`` when
that is set (then HS256 is refused, so a leaked development secret cannot mint production tokens).
``alg: none`` and every other algorithm are refused. The role must be one of the API's roles
(never ``system``, which the workflow trusts blindly) and the office must exist in the office
tree at the tier the role works at; anything else is a 401.

A ``rating_link`` token carries ``req`` (one request id) and lets a resident rate that request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import jwt

from daiban.core.settings import Settings
from daiban.domain.offices import OfficeTree, demo_tree
from daiban.domain.scope import Principal, principal_from_claims
from daiban.http.problems import Unauthorized, Unavailable

HS256: Final = "HS256"
RS256: Final = "RS256"
LEEWAY_SECONDS: Final = 30
REQUIRED_CLAIMS: Final = ["exp", "sub", "role", "office"]


class TokenVerifier:
    """Verifies bearer tokens with the settings' algorithm; built once per app."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret.get_secret_value()
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._algorithm = RS256 if self._jwks else HS256

    async def verify(self, token: str, offices: OfficeTree | None = None) -> Principal:
        """The principal of a token whose office is in ``offices`` (the API passes the tree it
        serves; the seed city's by default)."""
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
            return principal_from_claims(claims, offices or demo_tree())
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
    offices: OfficeTree | None = None,
) -> str:
    """An HS256 token for development (``daiban token``) and for rating links.

    Raises ValueError with one line when the claims could not be verified in ``offices`` (the seed
    city's tree by default): unknown role or office, wrong tier. Tokens minted here are refused
    when the API is configured with a JWKS URL.
    """
    extra = dict(extra or {})
    claims = {**extra, "sub": sub, "role": role, "office": office}
    principal_from_claims(claims, offices or demo_tree())
    now = int(time.time())
    ttl = settings.jwt_ttl_seconds if ttl_seconds is None else ttl_seconds
    payload = {**extra, "sub": sub, "role": role, "office": office, "iat": now, "exp": now + ttl}
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm=HS256)
