"""A request registered on the agent's phone with no connection is kept there, shown as waiting,
and sent when the connection is back — exactly once, although the first sends reach the server
and their answers are lost on the way back (the phone retries with the key made at
registration)."""

from __future__ import annotations

import uuid

from playwright.async_api import Browser, Route, expect

from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot

VILLAGE = "370285004001"


async def test_offline_registration_is_sent_once_after_retries(
    browser: Browser, stack: ConsoleStack
) -> None:
    note = f"offline-{uuid.uuid4().hex[:8]}"
    lost = 0

    async def lose_the_answer(route: Route) -> None:
        # The request reaches the server and is handled; the phone never hears back.
        nonlocal lost
        if route.request.method == "POST" and lost < 2:
            lost += 1
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    async with person(browser, stack, "agent", phone=True) as agent:
        await agent.goto("/agent/new")
        await agent.context.set_offline(True)
        await agent.select_option("#item", "linshi-jiuzhu")
        await agent.fill("#name", RESIDENT["name"])
        await agent.fill("#id_number", RESIDENT["id_number"])
        await agent.fill("#phone", RESIDENT["phone"])
        await agent.fill("#note", note)
        await agent.click("#register button[type=submit]")
        await expect(agent.locator("#offline-saved")).to_be_visible()
        await expect(agent.locator("#outbox-count")).to_have_text("1")
        await expect(agent.locator("#outbox-list")).to_contain_text("等待网络")
        await shoot(agent, "agent-offline-waiting")
        assert await _created(stack, note) == 0

        await agent.route("**/agent/new", lose_the_answer)
        await agent.context.set_offline(False)
        await expect(agent.locator("#outbox")).to_be_hidden(timeout=30_000)
        assert lost == 2
        assert await _created(stack, note) == 1
        # Reloading the page (another retry chance) sends nothing more.
        await agent.goto("/agent")
        await expect(agent.locator("#outbox")).to_be_hidden()
        await expect(agent.locator(".tile").first).to_be_visible()
    assert await _created(stack, note) == 1


async def _created(stack: ConsoleStack, note: str) -> int:
    page = await stack.api("GET", "/v1/requests", "agent", VILLAGE, params={"limit": 200})
    count = 0
    for item in page["items"]:
        state = await stack.api("GET", f"/v1/requests/{item['id']}", "agent", VILLAGE)
        count += state["note"] == note
    return count
