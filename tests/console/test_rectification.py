"""A bad rating answered in the console: the township window calls the resident back (the form
asks whether they were reached), settles with 限期整改 (the date is asked only with that choice)
and later 立行立改; another bad rating is appealed and reviewed by the city's supervisor, the
tier above — every step in words on the request page."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, expect

from tests.api.conftest import TOWNSHIP, VILLAGE
from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot


async def rated_bad(stack: ConsoleStack) -> str:
    """A township item decided, delivered and rated 1 through the API."""
    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    rid: str = (await stack.api("POST", "/v1/requests", "agent", VILLAGE, json=body))["id"]
    path = f"/v1/requests/{rid}/actions"
    for action, role, office in (
        ("handoff", "agent", VILLAGE),
        ("accept", "township_staff", TOWNSHIP),
        ("approve", "township_staff", TOWNSHIP),
        ("deliver", "agent", VILLAGE),
    ):
        await stack.api("POST", path, role, office, json={"action": action})
    rating = {"score": 1, "comment": "窗口态度差"}
    await stack.api("POST", f"/v1/requests/{rid}/rating", "agent", VILLAGE, json=rating)
    return rid


async def submit(page: Page, action: str) -> None:
    await page.click(f'button[data-action="{action}"]')
    await page.wait_for_load_state()


async def test_callback_and_scheduled_fix_by_clicking(
    browser: Browser, stack: ConsoleStack
) -> None:
    rid = await rated_bad(stack)
    async with person(browser, stack, "township") as staff:
        await staff.goto(f"/r/{rid}")
        section = staff.locator("#rectification")
        await expect(section).to_contain_text("差评整改")
        await expect(section).to_contain_text("尚未回访")
        # Before the callback there is nothing to settle: no rectify form at all.
        await expect(staff.locator("#form-rectify")).to_have_count(0)
        await shoot(staff, "staff-rectification-callback")
        form = staff.locator("#form-callback")
        await form.locator("textarea[name=note]").fill("已电话联系申请人，说明情况并致歉")
        await submit(staff, "callback")  # reached not chosen: said in words (422)
        await expect(staff.locator(".error-summary")).to_contain_text("请选择是否联系上群众")
        form = staff.locator("#form-callback")
        await form.locator("label.check", has_text="联系上了").click()
        await submit(staff, "callback")
        await expect(staff.locator(".notice-ok")).to_contain_text("已办理：回访")
        await expect(section).to_contain_text("已联系上群众：已电话联系申请人")
        await expect(staff.locator(".timeline")).to_contain_text("已联系上群众：")

        # The settlement: the date is asked only with 限期整改.
        form = staff.locator("#form-rectify")
        due = form.locator("input[name=due]")
        await expect(due).to_be_hidden()
        await form.locator("label.check", has_text="限期整改").click()
        await expect(due).to_be_visible()
        await form.locator("textarea[name=note]").fill("窗口设备需更换")
        await submit(staff, "rectify")  # no date: said in words
        await expect(staff.locator(".error-summary")).to_contain_text("限期整改须填写完成日期")
        day = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=10)).date().isoformat()
        form = staff.locator("#form-rectify")
        await form.locator("label.check", has_text="限期整改").click()
        await form.locator("input[name=due]").fill(day)
        await submit(staff, "rectify")
        await expect(section).to_contain_text(f"限期整改（{day}前完成）")
        await expect(staff.locator(".clocks")).to_contain_text("限期整改期限")
        # Now only the fix itself may follow.
        form = staff.locator("#form-rectify")
        await expect(form.locator("input[name=outcome]")).to_have_count(1)
        await shoot(staff, "staff-rectification-scheduled")
        await form.locator("label.check", has_text="立行立改").click()
        await form.locator("textarea[name=note]").fill("设备已更换")
        await submit(staff, "rectify")
        await expect(staff.locator(".summary")).to_contain_text("已办结")
        await expect(staff.locator(".timeline")).to_contain_text("立行立改：设备已更换")


async def test_appeal_reviewed_by_the_tier_above_by_clicking(
    browser: Browser, stack: ConsoleStack
) -> None:
    rid = await rated_bad(stack)
    async with person(browser, stack, "township") as staff:
        await staff.goto(f"/r/{rid}")
        await expect(staff.locator("#rectification")).to_contain_text("可在")
        form = staff.locator("#form-appeal_rating")
        await form.locator("textarea[name=note]").fill("评价人所述与本件无关")
        await submit(staff, "appeal_rating")
        await expect(staff.locator("#rectification")).to_contain_text("申诉待复核")
    async with person(browser, stack, "supervisor-township") as own_tier:
        await own_tier.goto(f"/r/{rid}")
        await expect(own_tier.locator("#form-review_appeal")).to_have_count(0)
    async with person(browser, stack, "supervisor") as city:
        await city.goto(f"/r/{rid}")
        form = city.locator("#form-review_appeal")
        await form.locator("label.check", has_text="成立").first.click()
        await submit(city, "review_appeal")
        await expect(city.locator("#rectification")).to_contain_text("申诉成立")
        await expect(city.locator("#rectification")).to_contain_text("不计入满意度统计")
        # The ledger names the written notice the acceptance issued, in words.
        ledger = city.locator("section.ledger")
        await expect(ledger).to_contain_text("受理通知书")
        await expect(ledger).not_to_contain_text("acceptance")
        await shoot(city, "supervisor-appeal-upheld")
