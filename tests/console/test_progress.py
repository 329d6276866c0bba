"""A resident looks up a request's progress on their phone, without login, by the number on the
registration slip and the last four characters of their ID number."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.api.conftest import VILLAGE
from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot


async def test_a_resident_finds_the_progress_of_a_request(
    browser: Browser, stack: ConsoleStack
) -> None:
    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    state = await stack.api("POST", "/v1/requests", "agent", VILLAGE, json=body)
    number = state["number"]
    async with person(browser, stack, None, phone=True) as page:
        await page.goto("/progress")
        await page.fill("#number", number)
        await page.fill("#id_last4", "0000")
        await page.click("button[type=submit]")
        assert "没有查到" in await page.inner_text("main")
        await page.fill("#id_last4", RESIDENT["id_number"][-4:])
        await page.click("button[type=submit]")
        text = await page.inner_text("main")
        assert number in text and "村代办员登记" in text and "预计办结送达" in text
        assert RESIDENT["name"] not in text and RESIDENT["phone"] not in text
        await shoot(page, "resident-progress")
        await page.goto("/progress?number=42&id_last4=1")
        text = await page.inner_text("main")
        assert "登记回执上" in text and "最后四位" in text
