"""A request walked through all three tiers by clicking, the way the three people would: the agent
on a phone registers and hands off, the township window accepts and forwards, the city window
accepts and approves, the agent delivers and shows the QR code, and the resident rates on their
own phone — with the refusals (422, 409) shown in words on the way."""

from __future__ import annotations

import uuid

from playwright.async_api import Browser, Page, expect

from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot

ITEM = "dibao"  # 最低生活保障审核确认, decided by the city


async def register(page: Page, note: str, item: str = ITEM) -> str:
    """The agent registers a request through the form; the id of the request page it lands on."""
    await page.goto("/agent/new")
    await page.select_option("#item", item)
    await expect(page.locator("#promised")).to_contain_text("年")
    await page.fill("#name", RESIDENT["name"])
    await page.fill("#id_number", RESIDENT["id_number"])
    await page.fill("#phone", RESIDENT["phone"])
    await page.fill("#note", note)
    await page.click("#register button[type=submit]")
    await page.wait_for_url("**/r/*?done=submit")
    return page.url.split("/r/")[1].split("?")[0]


async def act(page: Page, action: str) -> None:
    await page.click(f'button[data-action="{action}"]')
    await page.wait_for_load_state()


async def test_three_tiers_by_clicking(browser: Browser, stack: ConsoleStack) -> None:
    note = f"walk-{uuid.uuid4().hex[:8]}"
    async with person(browser, stack, "agent", phone=True) as agent:
        await agent.goto("/agent/new")
        await agent.select_option("#item", ITEM)
        await agent.fill("#id_number", "37028519480215002")  # one digit short
        await expect(agent.locator("#id-check")).to_have_text("还差1位")
        await agent.fill("#id_number", "370285194802150023")  # wrong check digit
        await expect(agent.locator("#id-check")).to_contain_text("校验位不对")
        await shoot(agent, "agent-register")
        # The server refuses what the script warned about, in words beside the field (422).
        await agent.fill("#name", RESIDENT["name"])
        await agent.fill("#phone", "12345")
        await agent.click("#register button[type=submit]")
        await expect(agent.locator(".error-summary")).to_contain_text("身份证号码不正确")
        await expect(agent.locator(".error-summary")).to_contain_text("手机号码不正确")
        await shoot(agent, "agent-register-errors")

        request_id = await register(agent, note)
        await expect(agent.locator(".notice-ok")).to_contain_text("已登记")
        await expect(agent.locator("h1")).to_have_text("最低生活保障审核确认")
        await expect(agent.locator(".summary")).to_contain_text("村代办中")
        # The number for the registration slip, and where the resident looks progress up.
        await expect(agent.locator(".summary")).to_contain_text("办件编号")
        await expect(agent.locator(".summary")).to_contain_text("progress 查询进度")
        # On the phone the clocks fit the screen: the deadline and what is left, no sideways scroll.
        clocks = agent.locator("table.clock-table")
        await expect(clocks).to_contain_text("还剩")
        await shoot(agent, "agent-request")
        widths = await clocks.evaluate("t => [t.scrollWidth, t.clientWidth]")
        assert widths[0] <= widths[1], f"the clocks table scrolls sideways at 360 px: {widths}"
        await agent.goto("/agent")
        tile = agent.locator(".tile", has=agent.locator(f'a[href="/r/{request_id}"]'))
        await expect(tile).to_contain_text("下一步：把材料送到乡镇便民服务中心")
        await shoot(agent, "agent-list")
        await agent.goto(f"/r/{request_id}")
        await act(agent, "handoff")
        await expect(agent.locator(".summary")).to_contain_text("乡镇受理中")

    async with (
        person(browser, stack, "township") as staff,
        person(browser, stack, "township") as stale,
    ):
        await staff.goto("/queue")
        row = staff.locator("tr", has=staff.locator(f'a[href="/r/{request_id}"]'))
        await expect(row).to_contain_text("最低生活保障审核确认")
        await expect(row).to_contain_text("阎家疃村")
        await shoot(staff, "staff-queue")
        await staff.goto(f"/r/{request_id}")
        # Only what is allowed now: no forwarding before acceptance.
        await expect(staff.locator('button[data-action="forward"]')).to_have_count(0)
        await expect(staff.locator('button[data-action="accept"]')).to_be_visible()
        await shoot(staff, "staff-request")
        # A refusal needs its reason (422), said beside the form.
        await act(staff, "refuse")
        await expect(staff.locator(".error-summary")).to_contain_text("请填写不予受理的理由")
        await shoot(staff, "staff-request-422")
        # A second window still shows the accept form; after the first accepts, it is a 409.
        await stale.goto(f"/r/{request_id}")
        await staff.goto(f"/r/{request_id}")
        await act(staff, "accept")
        await expect(staff.locator(".notice-ok")).to_contain_text("已办理：受理")
        await act(stale, "accept")
        summary = stale.locator(".error-summary")
        await expect(summary).to_contain_text("现在不能这样办理")
        await expect(summary).to_contain_text("转报市中心")
        await shoot(stale, "staff-request-409")
        await act(staff, "forward")
        await expect(staff.locator(".summary")).to_contain_text("市中心办理中")

    async with person(browser, stack, "city") as city:
        await city.goto("/queue")
        await city.click(f'a[href="/r/{request_id}"] >> nth=0')
        await act(city, "accept")
        await city.click("#form-approve summary")  # the optional note, folded away
        await city.fill("#approve-note", "符合低保条件")
        await act(city, "approve")
        await expect(city.locator(".summary")).to_contain_text("待送达")
        await expect(city.locator(".timeline")).to_contain_text("符合低保条件")

    async with person(browser, stack, "agent", phone=True) as agent:
        await agent.goto("/agent")
        tile = agent.locator(".tile", has=agent.locator(f'a[href="/r/{request_id}"]'))
        await expect(tile).to_contain_text("下一步：把结果送到群众手中")
        await agent.goto(f"/r/{request_id}")
        await act(agent, "deliver")
        await agent.click("text=请群众扫码评价")
        await expect(agent.locator(".qr svg")).to_be_visible()
        await shoot(agent, "agent-qr")
        rating_url = await agent.locator("#rating-url").inner_text()

    async with person(browser, stack, None, phone=True) as resident:
        await resident.goto(rating_url)
        await expect(resident.locator("h1")).to_have_text("请为这次服务评价")
        await shoot(resident, "resident-rate")
        await resident.click("text=提交评价")  # no score chosen: said in words
        await expect(resident.locator(".error-summary")).to_contain_text("请选择评分")
        await resident.click("label.score:has-text('非常满意')")
        await resident.click("text=提交评价")
        await expect(resident.locator("h1")).to_have_text("谢谢您的评价")
        await shoot(resident, "resident-thanks")

    state = await stack.api("GET", f"/v1/requests/{request_id}", "agent", "370285004001")
    assert state["stage"] == "completed"
    assert state["rating"]["score"] == 5
    actions = [h["action"] for h in state["history"]]
    assert actions.count("accept") == 2  # the stale second accept wrote nothing
