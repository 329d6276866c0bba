"""A township supervisor cannot see another township's requests anywhere in the console: not on
the board, not in the lists, not by address, not in the ledger — while the city supervisor, whose
scope holds both, does see them (so the test would notice a page that leaks nothing at all)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot

HOME_TOWNSHIP, FAR_TOWNSHIP = "370285004", "370285005"
HOME_VILLAGE, FAR_VILLAGE = "370285004001", "370285005001"


async def submit(stack: ConsoleStack, village: str) -> str:
    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["户口簿"]}
    state = await stack.api("POST", "/v1/requests", "agent", village, json=body)
    request_id: str = state["id"]
    return request_id


async def test_a_township_supervisor_sees_only_its_township(
    browser: Browser, stack: ConsoleStack
) -> None:
    mine = await submit(stack, HOME_VILLAGE)
    far = await submit(stack, FAR_VILLAGE)

    async with person(browser, stack, "supervisor-township") as sup:
        await sup.goto("/board")
        cards = sup.locator(".township-cards .card")
        await expect(sup.locator(f'.card[data-township="{HOME_TOWNSHIP}"]')).to_be_visible()
        await expect(sup.locator(f'.card[data-township="{FAR_TOWNSHIP}"]')).to_have_count(0)
        assert await cards.count() == 1
        await shoot(sup, "board-township")

        await sup.goto("/requests")
        await expect(sup.locator(f'a[href="/r/{mine}"]').first).to_be_visible()
        await expect(sup.locator(f'a[href="/r/{far}"]')).to_have_count(0)
        await sup.goto(f"/requests?township={FAR_TOWNSHIP}")
        await expect(sup.locator("td.empty")).to_be_visible()

        for path in (f"/r/{far}", f"/r/{far}/verify"):
            response = await sup.goto(path)
            assert response is not None and response.status == 404, path
            await expect(sup.locator(".error-summary")).to_contain_text("不在您的权限范围内")
        await shoot(sup, "scope-404")

        response = await sup.goto(f"/r/{mine}")
        assert response is not None and response.status == 200
        await expect(sup.locator(".ledger")).to_contain_text("登记")

    async with person(browser, stack, "supervisor") as city:
        await city.goto("/board")
        await expect(city.locator(f'.card[data-township="{FAR_TOWNSHIP}"]')).to_be_visible()
        response = await city.goto(f"/r/{far}")
        assert response is not None and response.status == 200
