"""Sessions and CSRF over real HTTP: the cookie's flags, login and logout, expiry, tampering, the
CSRF token on every form, the development login page only in development and on loopback, and
``/docs`` served without a CDN."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from unittest import mock

import httpx
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr
from starlette.requests import Request

from api import create_app
from daiban.console.login import dev_login_open
from daiban.console.session import COOKIE, SALT
from daiban.core.settings import Settings
from tests.api.conftest import SECRET, serve
from tests.console.conftest import RESIDENT, ConsoleStack

VILLAGE = "370285004001"


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@asynccontextmanager
async def logged_in(stack: ConsoleStack, user: str = "agent") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        page = await http.get("/login")
        reply = await http.post("/login", data={"csrf": csrf_of(page.text), "user": user})
        assert reply.status_code == 303, reply.text
        yield http


async def test_cookie_is_httponly_samesite_and_not_secure_in_development(
    stack: ConsoleStack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        page = await http.get("/login")
        assert page.status_code == 200
        header = page.headers["set-cookie"].lower()
        assert f"{COOKIE}=" in header
        assert "httponly" in header and "samesite=lax" in header
        assert "secure" not in header.replace("samesite", "")
        assert "阎家疃村" in page.text and "电子监察" in page.text


async def test_login_needs_the_csrf_token_and_gets_a_new_one(stack: ConsoleStack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        before = csrf_of((await http.get("/login")).text)
        refused = await http.post("/login", data={"user": "agent"})
        assert refused.status_code == 403
        assert "页面已过期" in refused.text
        assert (await http.get("/agent")).headers["location"] == "/login"
        forged = await http.post("/login", data={"user": "agent", "csrf": "x" + before})
        assert forged.status_code == 403
        ok = await http.post("/login", data={"user": "agent", "csrf": before})
        assert ok.status_code == 303 and ok.headers["location"] == "/agent"
        home = await http.get("/agent")
        assert home.status_code == 200 and "阎家疃村 · 办件" in home.text
        # A token planted before the login is worth nothing after it.
        assert csrf_of(home.text) != before


async def test_logout_ends_the_session(stack: ConsoleStack) -> None:
    async with logged_in(stack) as http:
        token = csrf_of((await http.get("/agent")).text)
        assert (await http.post("/logout", data={})).status_code == 403  # CSRF on logout too
        out = await http.post("/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (await http.get("/agent")).status_code == 303


async def test_expired_or_tampered_sessions_are_anonymous(stack: ConsoleStack) -> None:
    serializer = URLSafeTimedSerializer(SECRET, salt=SALT)
    claims = {"sub": "demo-agent", "role": "agent", "office": VILLAGE, "csrf": "c"}
    fresh = serializer.dumps(claims)
    with mock.patch("itsdangerous.timed.time.time", return_value=time.time() - 9 * 3600):
        expired = serializer.dumps(claims)
    forged = URLSafeTimedSerializer("another-secret-" * 3, salt=SALT).dumps(claims)
    for value, status in ((fresh, 200), (expired, 303), (forged, 303), (fresh[:-2], 303)):
        async with httpx.AsyncClient(base_url=stack.base_url, cookies={COOKIE: value}) as http:
            assert (await http.get("/agent")).status_code == status, value


async def test_a_form_without_its_csrf_token_writes_nothing(stack: ConsoleStack) -> None:
    state = await stack.api(
        "POST",
        "/v1/requests",
        "agent",
        VILLAGE,
        json={"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["户口簿"]},
    )
    async with logged_in(stack) as http:
        path = f"/r/{state['id']}/act"
        refused = await http.post(path, data={"action": "handoff", "csrf": "stale"})
        assert refused.status_code == 403
        after = await stack.api("GET", f"/v1/requests/{state['id']}", "agent", VILLAGE)
        assert after["stage"] == "village_intake"
        assert [h["action"] for h in after["history"]] == ["submit"]


async def test_pages_of_another_role_are_refused_and_out_of_scope_is_404(
    stack: ConsoleStack,
) -> None:
    async with logged_in(stack, "agent") as http:
        assert (await http.get("/board")).status_code == 403
        assert (await http.get("/queue")).status_code == 403
        missing = await http.get("/r/no-such-request")
        assert missing.status_code == 404 and "没有这个办件" in missing.text


def _request_from(host: str) -> Request:
    return Request({"type": "http", "client": (host, 50000), "headers": [], "method": "GET"})


def test_the_development_login_is_for_loopback_in_development_only() -> None:
    assert dev_login_open(_request_from("127.0.0.1"), "development")
    assert dev_login_open(_request_from("::1"), "development")
    assert not dev_login_open(_request_from("10.20.30.40"), "development")
    assert not dev_login_open(_request_from("127.0.0.1"), "production")
    assert not dev_login_open(_request_from("127.0.0.1"), "test")


async def test_production_has_no_login_page_and_secure_cookies(stack: ConsoleStack) -> None:
    key = "k1:" + __import__("base64").b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(
        environment="production",
        database_url=stack.settings.database_url,
        temporal_address=stack.settings.temporal_address,
        jwt_secret=SecretStr(secrets.token_urlsafe(40)),
        codec_keys=SecretStr(key),
    )
    app = create_app(settings, client=stack.client, engine=stack.engine)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        page = await http.get("/login")
        assert page.status_code == 404
        assert "secure" in page.headers["set-cookie"].lower().replace("samesite", "")
        assert (await http.post("/login", data={"user": "admin"})).status_code in (403, 404)
        assert (await http.get("/admin")).headers["location"] == "/login"


async def test_docs_are_served_from_this_deployment(stack: ConsoleStack) -> None:
    docs = await stack.http.get("/docs")
    assert docs.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"):
        assert (await stack.http.get(f"/static/swagger-ui/{asset}")).status_code == 200
    assert (await stack.http.get("/openapi.json")).status_code == 200
