"""Bearer tokens: verifying them into a ``Principal``, and minting them for development.

A token is a JWT with ``sub``, ``role``, ``office`` and ``exp``. Only the configured algorithm is
accepted: HS256 with ``DAIBAN_JWT_SECRET``, or RS256 with keys from ``DAIBAN_JWT_JWKS_URL`` when
that is set (then HS256 is refused, so a leaked development secret cannot mint production tokens,
and the token's ``aud`` and ``iss`` must be ``DAIBAN_JWT_AUDIENCE`` and ``DAIBAN_JWT_ISSUER``).
``alg: none`` and every other algorithm are refused. The role must be one of the API's roles
(never ``system``, which the workflow trusts blindly) and the office must exist in the office
tree at the tier the role works at; anything else is a 401.

A ``rating_link`` token carries ``req`` (one request id) and lets a resident rate that request.
Rating links are minted here, HS256, with a key of their own (``Settings.rating_link_key``) and the
key id ``rating-link`` in their header: JWKS mode accepts them too, for the rating-link role only.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Final

import jwt

from daiban.core.settings import Settings
from daiban.domain.offices import OfficeTree, demo_tree
from daiban.domain.scope import RATING_LINK, Principal, principal_from_claims
from daiban.http.problems import Unauthorized, Unavailable

HS256: Final = "HS256"
RS256: Final = "RS256"
LEEWAY_SECONDS: Final = 30
REQUIRED_CLAIMS: Final = ["exp", "sub", "role", "office"]
RATING_LINK_KID: Final = "rating-link"


class TokenVerifier:
    """Verifies bearer tokens with the settings' algorithm; built once per app."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret.get_secret_value()
        self._link_key = settings.rating_link_key
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._algorithm = RS256 if self._jwks else HS256
        self._audience = settings.jwt_audience if self._jwks else None
        self._issuer = settings.jwt_issuer if self._jwks else None

    async def verify(self, token: str, offices: OfficeTree | None = None) -> Principal:
        """The principal of a token whose office is in ``offices`` (the API passes the tree it
        serves; the seed city's by default)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        tree = offices or demo_tree()
        if header.get("kid") == RATING_LINK_KID and header.get("alg") == HS256:
            return self._rating_link(token, tree)
        if header.get("alg") != self._algorithm:
            raise Unauthorized(f"token algorithm must be {self._algorithm}")
        key: Any = self._secret
        if self._jwks is not None:
            key = await self._signing_key(token)
        required = REQUIRED_CLAIMS + (["aud", "iss"] if self._jwks else [])
        claims = self._decode(token, key, self._algorithm, required, self._audience, self._issuer)
        return _principal(claims, tree)

    def _rating_link(self, token: str, tree: OfficeTree) -> Principal:
        """A rating link signed with the rating-link key: that role and nothing else."""
        claims = self._decode(token, self._link_key, HS256, [*REQUIRED_CLAIMS, "req"])
        if claims.get("role") != RATING_LINK:
            raise Unauthorized("the rating-link key signs rating links only")
        return _principal(claims, tree)

    @staticmethod
    def _decode(
        token: str,
        key: Any,
        algorithm: str,
        required: list[str],
        audience: str | None = None,
        issuer: str | None = None,
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audience,
                issuer=issuer,
                options={"require": required},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("token signature is invalid") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        return claims

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


def _principal(claims: dict[str, Any], tree: OfficeTree) -> Principal:
    try:
        return principal_from_claims(claims, tree)
    except ValueError as error:
        raise Unauthorized(str(error)) from None


def mint_rating_link(
    settings: Settings,
    request_id: str,
    village: str,
    ttl_seconds: int,
    offices: OfficeTree | None = None,
    link_id: str | None = None,
) -> str:
    """A rating-link token for one request, signed with the rating-link key. Its ``jti`` names
    the link to the workflow, which lets each link rate once (a fresh one unless given: the link
    sent by SMS keeps its id however often its address is opened)."""
    sub = f"resident:{request_id}"
    claims = {"sub": sub, "role": RATING_LINK, "office": village, "req": request_id}
    principal_from_claims(claims, offices or demo_tree())
    now = int(time.time())
    payload = {
        "sub": sub,
        "role": RATING_LINK,
        "office": village,
        "req": request_id,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": link_id or uuid.uuid4().hex,
    }
    headers = {"kid": RATING_LINK_KID}
    return jwt.encode(payload, settings.rating_link_key, algorithm=HS256, headers=headers)


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
