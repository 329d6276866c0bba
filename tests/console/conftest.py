"""The console through a real browser: the system's Chromium driven by Playwright against the real
stack (Temporal dev server, worker, SQLite read model, uvicorn on a port), as tests/api does.

The stack runs in development mode, so that its login page lists the demo users (the page exists
only in development and only on loopback). Chromium missing is a failure with one line saying what
to install, never a skip. Screenshots of every screen go to ``var/screenshots/`` at 360 px and
1440 px.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api import create_app
from daiban.core.settings import Settings
from daiban.core.temporal import connect
from daiban.http.auth import mint_token
from daiban.store.db import make_engine
from tests.api.conftest import SECRET, database_url, dev_server, serve  # noqa: F401 (fixtures)
from tests.temporal_helpers import target_of
from worker import build_worker

CHROMIUM = os.environ.get("DAIBAN_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 360, "height": 780}
DESK = {"width": 1440, "height": 900}
RESIDENT = {"name": "王秀英", "id_number": "370285194802150024", "phone": "13805321234"}


def console_settings(url: str, temporal_address: str, **overrides: Any) -> Settings:
    return Settings(
        environment="development",
        database_url=url,
        temporal_address=temporal_address,
        task_queue=f"console-{uuid.uuid4().hex[:8]}",
        jwt_secret=SecretStr(SECRET),
        **overrides,
    )


@dataclass
class ConsoleStack:
    base_url: str
    settings: Settings
    client: Client
    engine: Engine
    http: httpx.AsyncClient

    def token(self, role: str, office: str) -> str:
        return mint_token(self.settings, f"{role}-{office}", role, office)

    async def api(self, method: str, path: str, role: str, office: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token(role, office)}"}
        response = await self.http.request(method, path, headers=headers, **kw)
        assert response.status_code < 300, response.text
        return response.json()


@asynccontextmanager
async def run_stack(settings: Settings) -> AsyncIterator[ConsoleStack]:
    engine = make_engine(settings.database_url)
    client = await connect(settings)
    worker = build_worker(client, engine, settings, task_queue=settings.task_queue)
    app = create_app(settings, client=client, engine=engine)
    async with worker, serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        yield ConsoleStack(base_url, settings, client, engine, http)
    engine.dispose()


@pytest.fixture(scope="session")
async def stack(
    dev_server: WorkflowEnvironment,  # noqa: F811
    database_url: str,  # noqa: F811
) -> AsyncIterator[ConsoleStack]:
    async with run_stack(console_settings(database_url, target_of(dev_server))) as s:
        yield s


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with "
            "`apt-get install -y chromium fonts-noto-cjk` (or set DAIBAN_CHROMIUM)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        await browser.close()


@asynccontextmanager
async def person(
    browser: Browser, stack: ConsoleStack, user: str | None, phone: bool = False
) -> AsyncIterator[Page]:
    """A browser of one person, logged in through the login page as the demo ``user`` (None: a
    resident, not logged in)."""
    context: BrowserContext = await browser.new_context(
        base_url=stack.base_url, viewport=PHONE if phone else DESK, locale="zh-CN"
    )
    page = await context.new_page()
    if user is not None:
        await page.goto("/login")
        await page.click(f'button[data-user="{user}"]')
        await page.wait_for_load_state()
    try:
        yield page
    finally:
        await context.close()


async def shoot(page: Page, name: str) -> None:
    """The page as it is, at a phone's and a desk's width (then back to the width it had)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for label, size in (("360", PHONE), ("1440", DESK)):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    if before is not None:
        await page.set_viewport_size(before)
