"""Single sign-on against a real OpenID Connect provider running locally (panva/node-oidc-provider
on the machine's Node.js): authorization code with PKCE, the role and office taken from the claims
the settings name, the ID token verified against the provider's keys; a login whose claims name no
office of ours is refused."""

from __future__ import annotations

import asyncio
import base64
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect
from pydantic import SecretStr

from api import create_app
from daiban.console.oidc import Oidc, OidcSettings
from daiban.core.settings import Settings
from daiban.run.procs import free_port
from tests.api.conftest import serve
from tests.console.conftest import DESK, ConsoleStack, shoot

PROVIDER = Path(__file__).parent / "oidc"


def _node_modules() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js 20+ and npm are needed: apt-get install -y nodejs npm", pytrace=False)
    if not (PROVIDER / "node_modules" / "oidc-provider").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER, check=True, timeout=300
        )


@pytest.fixture
async def sso(stack: ConsoleStack) -> AsyncIterator[str]:
    """A production app whose login is single sign-on through a local provider; its base URL."""
    _node_modules()
    key = "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(
        environment="production",
        database_url=stack.settings.database_url,
        temporal_address=stack.settings.temporal_address,
        task_queue=stack.settings.task_queue,
        jwt_secret=SecretStr(secrets.token_urlsafe(40)),
        codec_keys=SecretStr(key),
    )
    app = create_app(settings, client=stack.client, engine=stack.engine)
    async with serve(app) as base_url:
        port = free_port()
        provider = await asyncio.create_subprocess_exec(
            "node", str(PROVIDER / "provider.mjs"), str(port), f"{base_url}/login/oidc/callback",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert provider.stdout is not None
            line = await asyncio.wait_for(provider.stdout.readline(), 30)
            assert b"oidc provider at" in line, line
            app.state.console_oidc = Oidc(
                OidcSettings(
                    issuer=f"http://127.0.0.1:{port}",
                    client_id="daiban-console",
                    scopes="openid daiban",
                    role_claim="daiban_role",
                    office_claim="daiban_office",
                )
            )
            yield base_url
        finally:
            provider.terminate()
            await provider.wait()


async def _sign_in(browser: Browser, base_url: str, account: str) -> tuple[str, str]:
    """Through the provider's own login and consent pages; the page's URL and text after."""
    context = await browser.new_context(base_url=base_url, viewport=DESK, locale="zh-CN")
    page = await context.new_page()
    try:
        await page.goto("/login")
        await expect(page.locator("button.user")).to_have_count(0)  # no demo users in production
        await shoot(page, "login-sso")
        await page.click("#sso")
        await page.fill("input[name=login]", account)
        await page.fill("input[name=password]", "any")
        await page.click("button[type=submit]")
        await page.click("button[type=submit]")  # consent
        await page.wait_for_url(f"{base_url}/**")
        await page.wait_for_load_state()
        return page.url, await page.locator("body").inner_text()
    finally:
        await context.close()


async def test_single_sign_on_with_pkce(browser: Browser, sso: str) -> None:
    url, text = await _sign_in(browser, sso, "township_staff@370285004")
    assert url == f"{sso}/queue"
    assert "姜山镇 · 待办件" in text
    assert "姜山镇 · 乡镇窗口" in text


async def test_claims_naming_no_office_of_ours_are_refused(browser: Browser, sso: str) -> None:
    url, text = await _sign_in(browser, sso, "township_staff@999999999")
    assert "统一身份认证登录未成功" in text
    async with httpx.AsyncClient(base_url=sso) as http:
        assert (await http.get("/queue")).headers["location"] == "/login"


async def test_a_callback_without_a_login_in_progress_is_refused(sso: str) -> None:
    async with httpx.AsyncClient(base_url=sso) as http:
        reply = await http.get("/login/oidc/callback", params={"code": "x", "state": "y"})
        assert reply.status_code == 401
        assert "统一身份认证登录未成功" in reply.text
