"""Supervision orders in the console: a supervisor issues one from a request's page, the window
staff find it in their queue and answer it, the supervisor sees the reply on the board and accepts
it — each step a click, through the API's own actions."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.api.conftest import VILLAGE
from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot


async def test_an_order_issued_answered_and_accepted_by_clicking(
    browser: Browser, stack: ConsoleStack
) -> None:
    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    rid = (await stack.api("POST", "/v1/requests", "agent", VILLAGE, json=body))["id"]
    handoff = {"action": "handoff"}
    await stack.api("POST", f"/v1/requests/{rid}/actions", "agent", VILLAGE, json=handoff)
    async with person(browser, stack, "supervisor") as supervisor:
        await supervisor.goto(f"/r/{rid}")
        form = supervisor.locator("#form-issue_order")
        await form.locator("textarea[name=note]").fill("群众反映迟迟未受理，请说明情况")
        await form.locator("button[type=submit]").click()
        orders = supervisor.locator("ul.orders li")
        await expect(orders).to_have_count(1)
        await expect(orders).to_contain_text("待答复")
        await expect(orders).to_contain_text("群众反映迟迟未受理")
        number = (await orders.locator("strong").inner_text()).strip()
        assert "督" in number, number
    async with person(browser, stack, "township") as staff:
        await staff.goto("/queue")
        waiting = staff.locator(".orders-due tbody tr", has_text=number)
        await expect(waiting).to_have_count(1)
        await shoot(staff, "staff-queue-orders")
        await waiting.get_by_role("link", name="答复").click()
        form = staff.locator("#form-reply_order")
        await form.locator("select[name=order]").select_option(number)
        await form.locator("textarea[name=note]").fill("已于当日受理，正在审核")
        await form.locator("button[type=submit]").click()
        await expect(staff.locator("ul.orders li")).to_contain_text("已答复待审核")
    async with person(browser, stack, "supervisor") as supervisor:
        await supervisor.goto("/board")
        row = supervisor.locator("#orders-list tbody tr", has_text=number)
        await expect(row).to_contain_text("已答复，待审核")
        await shoot(supervisor, "board-orders")
        await row.get_by_role("link").click()
        form = supervisor.locator("#form-review_order")
        await form.locator("select[name=order]").select_option(number)
        await form.locator("input[name=accepted][value=true]").check()
        await form.locator("button[type=submit]").click()
        await expect(supervisor.locator("ul.orders li")).to_contain_text("已办结")
        await shoot(supervisor, "request-order-closed")
