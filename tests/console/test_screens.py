"""The screens not walked elsewhere: the login page, the administrator's catalog and offices, the
list of requests and ``/docs`` rendering Swagger UI from this deployment alone."""

from __future__ import annotations

from playwright.async_api import Browser, Request, expect

from tests.console.conftest import ConsoleStack, person, shoot


async def test_login_page_lists_the_demo_users(browser: Browser, stack: ConsoleStack) -> None:
    async with person(browser, stack, None) as page:
        await page.goto("/")
        await page.wait_for_url("**/login")
        await expect(page.locator("button.user")).to_have_count(8)
        await expect(page.locator("body")).to_contain_text("阎家疃村")
        await shoot(page, "login")


async def test_admin_sees_the_catalog_and_the_offices(
    browser: Browser, stack: ConsoleStack
) -> None:
    async with person(browser, stack, "admin") as page:
        await page.wait_for_url("**/admin")
        await expect(page.locator("body")).to_contain_text("最低生活保障审核确认")
        offices = page.locator("table").nth(1)
        await expect(offices.locator("tr", has_text="姜山镇")).to_contain_text("370285004")
        await shoot(page, "admin")


async def test_docs_load_nothing_from_outside(browser: Browser, stack: ConsoleStack) -> None:
    outside: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith(stack.base_url):
            outside.append(request.url)

    async with person(browser, stack, None) as page:
        page.on("request", note)
        await page.goto("/docs")
        await expect(page.locator(".swagger-ui .title")).to_contain_text("daiban")
        await shoot(page, "docs")
    assert outside == []


async def test_admin_changes_the_calendar_and_running_deadlines_are_recomputed(
    browser: Browser, stack: ConsoleStack
) -> None:
    async with person(browser, stack, "admin") as page:
        await page.goto("/admin/calendar")
        # A schedule typed from the notice: a day it cannot read, or one outside the year, is
        # refused in words, writes nothing, and what was typed stays in the form.
        await page.fill("#year", "2031")
        await page.fill("#holidays", "1月1日\n2月10日至16日\n春节")
        await page.fill("#workdays", "2月8日")
        await page.click("#year-form button")
        await expect(page.locator(".error-summary")).to_contain_text("放假日期“春节”看不懂")
        await expect(page.locator("#holidays")).to_have_value("1月1日\n2月10日至16日\n春节")
        await expect(page.locator("#workdays")).to_have_value("2月8日")
        await page.fill("#holidays", "1月1日\n2032-02-10")
        await page.click("#year-form button")
        await expect(page.locator(".error-summary")).to_contain_text("“2032-02-10”：不在2031年")
        await expect(page.locator("body")).not_to_contain_text("2031年（")

        await page.fill("#holidays", "1月1日\n2月10日至16日")
        await page.fill("#workdays", "2月8日")
        await page.click("#year-form button")
        done = page.locator("#calendar-done")
        await expect(done).to_contain_text("2031年已载入：放假8天，调休上班1天")
        await expect(done).to_contain_text("件在办件的期限")
        await expect(page.locator("body")).to_contain_text("2031年（在管理页面载入）")

        await page.fill("#day", "2030-06-14")
        await page.check("input[name=kind][value=holiday]")
        await page.fill("#day-note", "演练")
        await page.click("#day-form button")
        await expect(done).to_contain_text("6月14日已设为放假")
        await expect(page.locator("#overrides")).to_contain_text("2030年6月14日（周五）")
        await shoot(page, "admin-calendar")
        row = page.locator("#overrides tr", has_text="2030年6月14日")
        await row.locator("button").click()
        await expect(done).to_contain_text("已取消6月14日的单日调整")
        await expect(page.locator("#overrides")).not_to_contain_text("2030年6月14日")
