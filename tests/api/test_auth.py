"""Authentication: every bad token is a 401 with a Bearer challenge; a role that may never do a
thing gets a 403."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr

from daiban.core.settings import Settings
from daiban.http.auth import TokenVerifier, mint_rating_link, mint_token
from daiban.http.problems import Unauthorized
from tests.api.conftest import SECRET, TOWNSHIP, VILLAGE, Caller, Stack


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "agent-x", "role": "agent", "office": VILLAGE, "iat": now, "exp": now + 600}
    return {k: v for k, v in (base | overrides).items() if v is not None}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BAD_TOKENS = {
    "expired": lambda: jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, "HS256"),
    "wrong signature": lambda: jwt.encode(claims(), "another-secret-" + "x" * 32, "HS256"),
    "alg none": lambda: f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}.",
    "alg none, signature kept": lambda: (
        b64({"alg": "none"})
        + "."
        + b64(claims())
        + "."
        + jwt.encode(claims(), SECRET).split(".")[2]
    ),
    "other hmac": lambda: jwt.encode(claims(), SECRET, "HS512"),
    "rs256 without jwks": lambda: jwt.encode(claims(), RSA_KEY, "RS256"),
    "malformed": lambda: "not-a-jwt",
    "three garbage parts": lambda: "a.b.c",
    "unknown role": lambda: jwt.encode(claims(role="mayor"), SECRET, "HS256"),
    "system role": lambda: jwt.encode(claims(role="system"), SECRET, "HS256"),
    "forged office": lambda: jwt.encode(claims(office="370285999999"), SECRET, "HS256"),
    "office at the wrong tier": lambda: jwt.encode(claims(office=TOWNSHIP), SECRET, "HS256"),
    "no exp": lambda: jwt.encode(claims(exp=None), SECRET, "HS256"),
    "no office": lambda: jwt.encode(claims(office=None), SECRET, "HS256"),
    "empty sub": lambda: jwt.encode(claims(sub=""), SECRET, "HS256"),
    "control characters in sub": lambda: jwt.encode(claims(sub="agent\x00x"), SECRET, "HS256"),
    "rating link without req": lambda: jwt.encode(claims(role="rating_link"), SECRET, "HS256"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_tokens_are_401_problems(stack: Stack, case: str) -> None:
    caller = stack.anonymous(BAD_TOKENS[case]())
    for response in (await caller.get("/v1/catalog"), await caller.submit()):
        assert response.status_code == 401, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        body = response.json()
        assert body["status"] == 401 and body["type"].endswith("unauthorized") and body["detail"]


async def test_missing_or_non_bearer_credentials_are_401(stack: Stack) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        response = await stack.http.get("/v1/requests", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="daiban"'
        assert response.json()["title"] == "Authentication required"


async def test_a_good_token_passes(stack: Stack) -> None:
    response = await stack.anonymous(jwt.encode(claims(), SECRET, "HS256")).get("/v1/catalog")
    assert response.status_code == 200


async def test_roles_that_may_never_act_get_403(
    stack: Stack, agent: Caller, staff: Caller, supervisor: Caller
) -> None:
    rid = await agent.new_request()
    admin = stack.caller("admin", "370285000")
    cases = [
        (await staff.submit(), "township staff cannot submit"),
        (await supervisor.submit(), "supervisors cannot submit"),
        (await agent.act(rid, "approve"), "agents never approve"),
        (await staff.act(rid, "handoff"), "staff never hand off"),
        (await supervisor.act(rid, "accept"), "supervisors never accept"),
        (await admin.act(rid, "withdraw"), "admins take no actions"),
        (await agent.get("/v1/queue"), "the queue is for staff"),
        (await supervisor.get("/v1/queue"), "the queue is for staff"),
        (await agent.get("/v1/stats"), "statistics are for supervisors"),
        (await staff.get("/v1/supervision/events"), "the ledger is for supervisors"),
        (await agent.get("/v1/supervision/verify"), "verification is for supervisors"),
        (await staff.post(f"/v1/requests/{rid}/rating", {"score": 5}), "staff never rate"),
    ]
    for response, why in cases:
        assert response.status_code == 403, (why, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 403


def test_mint_token_refuses_what_the_api_would_refuse() -> None:
    settings = Settings(jwt_secret=SecretStr(SECRET))
    with pytest.raises(ValueError, match="unknown role"):
        mint_token(settings, "x", "mayor", VILLAGE)
    with pytest.raises(ValueError, match="unknown office"):
        mint_token(settings, "x", "agent", "999")
    with pytest.raises(ValueError, match="cannot work at a township"):
        mint_token(settings, "x", "agent", TOWNSHIP)
    token = mint_token(settings, "x", "township_staff", TOWNSHIP, ttl_seconds=60)
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert decoded["exp"] - decoded["iat"] == 60
    assert (decoded["role"], decoded["office"], decoded["sub"]) == ("township_staff", TOWNSHIP, "x")


AUDIENCE, ISSUER = "daiban-api", "https://idp.example.gov.cn"
LINK_SECRET = "rating-link-secret-" + "y" * 32


async def test_rs256_through_a_jwks_url_and_nothing_else() -> None:
    """With a JWKS URL configured, RS256 tokens of its keys for our audience and from our issuer
    pass; HS256 tokens do not, except rating links signed with their own key."""
    public = json.loads(RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        settings = Settings(
            jwt_secret=SecretStr(SECRET),
            jwt_jwks_url=url,
            jwt_audience=AUDIENCE,
            jwt_issuer=ISSUER,
            rating_link_secret=SecretStr(LINK_SECRET),
        )
        verifier = TokenVerifier(settings)
        ours = {"aud": AUDIENCE, "iss": ISSUER}
        good = jwt.encode(claims(**ours), RSA_KEY, "RS256", headers={"kid": "k1"})
        principal = await verifier.verify(good)
        assert (principal.sub, principal.role, principal.office) == ("agent-x", "agent", VILLAGE)
        link = mint_rating_link(settings, "r1", VILLAGE, 600)
        principal = await verifier.verify(link)
        assert (principal.role, principal.request) == ("rating_link", "r1")
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        link_kid = {"kid": "rating-link"}
        for bad in (
            jwt.encode(claims(**ours), SECRET, "HS256"),
            jwt.encode(claims(**ours), other_key, "RS256", headers={"kid": "k1"}),
            jwt.encode(claims(**ours), RSA_KEY, "RS256", headers={"kid": "unknown"}),
            # Another audience, another issuer, or none: a token of the IdP, not for us.
            jwt.encode(
                claims(aud="other-app", iss=ISSUER), RSA_KEY, "RS256", headers={"kid": "k1"}
            ),
            jwt.encode(
                claims(aud=AUDIENCE, iss="https://evil"), RSA_KEY, "RS256", headers={"kid": "k1"}
            ),
            jwt.encode(claims(), RSA_KEY, "RS256", headers={"kid": "k1"}),
            # The rating-link key signs rating links only, and only it does.
            jwt.encode(claims(), LINK_SECRET, "HS256", headers=link_kid),
            jwt.encode(claims(role="rating_link", req="r1"), SECRET, "HS256", headers=link_kid),
        ):
            with pytest.raises(Unauthorized):
                await verifier.verify(bad)
    finally:
        server.shutdown()
        thread.join()


def test_jwks_mode_requires_audience_issuer_and_a_rating_link_key() -> None:
    url = "https://idp.example.gov.cn/jwks.json"
    with pytest.raises(ValueError, match="AUDIENCE and DAIBAN_JWT_ISSUER"):
        Settings(jwt_jwks_url=url)
    with pytest.raises(ValueError, match="RATING_LINK_SECRET"):
        Settings(jwt_jwks_url=url, jwt_audience=AUDIENCE, jwt_issuer=ISSUER)


async def test_rating_links_are_signed_with_their_own_key(stack: Stack) -> None:
    agent = stack.caller("agent", VILLAGE)
    request_id = await agent.new_request()
    response = await agent.post(f"/v1/requests/{request_id}/rating-link")
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert jwt.get_unverified_header(token)["kid"] == "rating-link"
    # The API knows the link (a rating link may rate, not read: 403, not 401)...
    link = Caller(stack.http, token)
    assert (await link.get(f"/v1/requests/{request_id}")).status_code == 403
    # ...and a link signed with another key is no token at all.
    forged = jwt.encode(jwt.decode(token, options={"verify_signature": False}), "x" * 40, "HS256",
                        headers={"kid": "rating-link"})  # fmt: skip
    assert (await Caller(stack.http, forged).get(f"/v1/requests/{request_id}")).status_code == 401
