"""The supervisor's board: the cards of a passed deadline appear by themselves (the offices close a
minute from now and an on-the-spot item is due at closing, as the README's tour does: its promised
and statutory limits are both the same day, so the yellow card with its supervision order and the
statutory rung fire together), and the statistics export is a real workbook, opened and checked with
openpyxl. The red card of an order nobody answers comes working days later: its timing is tested
on the time-skipping server (tests/workflows/test_county_ladder.py)."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from daiban.domain.offices import demo_offices
from daiban.store.calendar import set_override
from daiban.store.db import load_offices, make_engine, session_scope, upgrade
from tests.console.conftest import (
    RESIDENT,
    ConsoleStack,
    console_settings,
    person,
    run_stack,
    shoot,
)
from tests.temporal_helpers import target_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOWNSHIP, VILLAGE = "370285004", "370285004001"


@pytest.fixture
async def closing_soon(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[ConsoleStack]:
    """A stack of its own whose offices close 30–90 seconds from now, today made a working day;
    they open at midnight, so that the closing time is after the opening at any hour."""
    now = datetime.now(SHANGHAI)
    if now.hour == 23 and now.minute >= 57:  # the closing time must fall today
        await asyncio.sleep((60 - now.minute) * 60 - now.second + 30)
        now = datetime.now(SHANGHAI)
    closing = (now + timedelta(seconds=90)).replace(second=0, microsecond=0).time()
    url = f"sqlite:///{tmp_path / 'board.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_offices(engine, demo_offices())
    with session_scope(engine) as session:
        set_override(session, now.date(), "workday", "board test")
    engine.dispose()
    settings = console_settings(
        url, target_of(dev_server), closing_time=closing, opening_time=time(0, 0)
    )
    async with run_stack(settings) as stack:
        yield stack


async def test_a_passed_deadline_appears_on_the_board_by_itself(
    browser: Browser, closing_soon: ConsoleStack
) -> None:
    stack = closing_soon
    async with person(browser, stack, "supervisor") as board:
        await board.goto("/board")
        await expect(board.locator(".township-cards")).to_contain_text("辖区内没有在办件")
        await board.evaluate("window.notReloaded = true")

        body = {"item": "yanglao-dengji", "resident": RESIDENT, "materials": ["户口簿"]}
        state = await stack.api("POST", "/v1/requests", "agent", VILLAGE, json=body)
        await stack.api(
            "POST", f"/v1/requests/{state['id']}/actions", "agent", VILLAGE,
            json={"action": "handoff"},
        )  # fmt: skip
        accepted = await stack.api(
            "POST", f"/v1/requests/{state['id']}/actions", "township_staff", TOWNSHIP,
            json={"action": "accept"},
        )  # fmt: skip
        assert accepted["deadline"] is not None

        card = board.locator(f'.card[data-township="{TOWNSHIP}"]')
        await expect(card).to_contain_text("在办 1", timeout=30_000)
        await expect(card).to_have_class(re.compile(r"\bworst-statutory\b"), timeout=150_000)
        await expect(card).to_contain_text("法定逾期 1")
        # Past its statutory limit, it is listed with the red cards (the rung above red).
        listed = board.locator("#red-list tr.row-statutory")
        await expect(listed).to_contain_text("城乡居民养老保险参保登记")
        await expect(listed.locator(f'a[href="/r/{state["id"]}"]')).to_have_count(1)
        assert await board.evaluate("window.notReloaded") is True
        await shoot(board, "board-statutory")

        async with board.expect_download() as download_info:
            await board.click("#export")
        download = await download_info.value
        data = Path(await download.path()).read_bytes()

    book = load_workbook(io.BytesIO(data))
    sheet = book["各乡镇统计"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("乡镇", "代码", "办件数")
    assert rows[0][11:16] == ("差评率", "回访率", "申诉成立", "督办单", "逾期督办单")
    by_code = {row[1]: row for row in rows[1:]}
    assert by_code[TOWNSHIP][0] == "姜山镇"
    assert by_code[TOWNSHIP][2] == 1  # one request
    assert by_code[TOWNSHIP][7] == 1  # one yellow card
    assert by_code[TOWNSHIP][8] == 1  # one red card: the statutory rung counts as red
    assert by_code[TOWNSHIP][14] == 1  # the yellow card's supervision order
    # The agent's unconfirmed ratings, counted apart from the satisfaction rate.
    assert rows[0][-1] == "未经本人确认的评价" and by_code[TOWNSHIP][-1] == 0
    assert next(book["月度趋势"].iter_rows(values_only=True))[0] == "月份"
