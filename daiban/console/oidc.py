"""Production login: the county's single sign-on through OpenID Connect, authorization code flow
with PKCE (RFC 7636, S256).

Settings (``DAIBAN_OIDC_*``): the issuer, the client id (and a secret for a confidential client),
and the names of the ID token's claims that carry the role and the office. The provider's endpoints
come from its discovery document; the ID token is verified against its JWKS (signature, issuer,
audience, expiry, nonce). The role and office must name a role and an office of ours at the right
tier (``principal_from_claims``, as a bearer token's do), else the login is refused.

While the browser is away at the provider, ``state``, ``nonce`` and the PKCE verifier wait in a
signed, HttpOnly, ten-minute cookie of their own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from daiban.console.session import new_session
from daiban.console.web import HOME, Console, ConsoleDep, ConsoleRoute
from daiban.domain.scope import principal_from_claims

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FLOW_COOKIE: Final = "daiban_oidc"
FLOW_SECONDS: Final = 600
CALLBACK: Final = "/login/oidc/callback"
HTTP_TIMEOUT: Final = 10.0


class OidcSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DAIBAN_OIDC_", env_file=".env", extra="ignore")

    issuer: str | None = None  # unset: no single sign-on (development uses the demo login)
    client_id: str = "daiban-console"
    client_secret: SecretStr | None = None  # a confidential client; None: a public one (PKCE)
    scopes: str = "openid"
    role_claim: str = "role"
    office_claim: str = "office"


class LoginFailed(Exception):
    """The provider's answer does not log anyone in (said in words on the login page)."""


class Oidc:
    """One relying party per app: the provider's discovery document and keys, fetched once."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._discovery: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            assert self.settings.issuer is not None
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
                reply = await http.get(url)
            reply.raise_for_status()
            self._discovery = reply.json()
        return self._discovery

    async def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = await self.discovery()
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(meta["jwks_uri"])
        # PyJWKClient fetches over blocking urllib (and caches): keep it off the event loop.
        key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, id_token)
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key.key,
            algorithms=meta.get("id_token_signing_alg_values_supported") or ["RS256"],
            audience=self.settings.client_id,
            issuer=meta["issuer"],
            options={"require": ["exp", "iat", "sub", "nonce"]},
        )
        if not secrets.compare_digest(str(claims.get("nonce")), nonce):
            raise LoginFailed("nonce mismatch")
        return claims


def relying_party(console: Console) -> Oidc | None:
    state = console.request.app.state
    oidc: Oidc | None = getattr(state, "console_oidc", None)
    if oidc is None:
        oidc = Oidc(OidcSettings())
        state.console_oidc = oidc
    return oidc if oidc.settings.issuer else None


def _flow_serializer(console: Console) -> URLSafeTimedSerializer:
    secret = console.services.settings.jwt_secret.get_secret_value()
    return URLSafeTimedSerializer(secret, salt="daiban.console.oidc")


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _redirect_uri(console: Console) -> str:
    return str(console.request.base_url).rstrip("/") + CALLBACK


@router.get("/login/oidc")
async def start(console: ConsoleDep) -> Response:
    oidc = relying_party(console)
    if oidc is None:
        return console.redirect("/login")
    meta = await oidc.discovery()
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
    }
    query = {
        "response_type": "code",
        "client_id": oidc.settings.client_id,
        "redirect_uri": _redirect_uri(console),
        "scope": oidc.settings.scopes,
        "state": flow["state"],
        "nonce": flow["nonce"],
        "code_challenge": _challenge(flow["verifier"]),
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{meta['authorization_endpoint']}?{urlencode(query)}", 303)
    response.set_cookie(
        FLOW_COOKIE,
        _flow_serializer(console).dumps(flow),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",
        secure=console.sessions.secure,
        path="/login/oidc",
    )
    return response


async def _exchange(console: Console, oidc: Oidc, code: str, verifier: str) -> str:
    meta = await oidc.discovery()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": _redirect_uri(console),
        "client_id": oidc.settings.client_id,
        "code_verifier": verifier,
    }
    secret = oidc.settings.client_secret
    auth = None if secret is None else (oidc.settings.client_id, secret.get_secret_value())
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, auth=auth) as http:
        reply = await http.post(meta["token_endpoint"], data=form)
    if reply.status_code != 200:
        raise LoginFailed(f"token endpoint answered {reply.status_code}")
    token = reply.json().get("id_token")
    if not isinstance(token, str):
        raise LoginFailed("no ID token")
    return token


@router.get(CALLBACK)
async def callback(
    console: ConsoleDep,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=256),
    error: str | None = Query(None, max_length=256),
) -> Response:
    oidc = relying_party(console)
    if oidc is None:
        return console.redirect("/login")
    try:
        raw = console.request.cookies.get(FLOW_COOKIE, "")
        try:
            flow = _flow_serializer(console).loads(raw, max_age=FLOW_SECONDS)
        except BadSignature:
            raise LoginFailed("no login in progress") from None
        if error or not code or not state or not secrets.compare_digest(state, flow["state"]):
            raise LoginFailed(error or "state mismatch")
        claims = await oidc.verify(
            await _exchange(console, oidc, code, flow["verifier"]), flow["nonce"]
        )
        s = oidc.settings
        principal = principal_from_claims(
            {
                "sub": claims["sub"],
                "role": claims.get(s.role_claim),
                "office": claims.get(s.office_claim),
            },
            console.offices,
        )
    except (LoginFailed, ValueError, jwt.PyJWTError, httpx.HTTPError):
        page = console.render(
            "login.html",
            status=401,
            users=(),
            sso=True,
            error="统一身份认证登录未成功，请重新登录。",
        )
        page.delete_cookie(FLOW_COOKIE, path="/login/oidc")
        return page
    console.session = new_session(principal)
    response = console.redirect(HOME.get(principal.role, "/"))
    response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    return response
