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
        await expect(page.locator("body")).to_contain_text(
            "11个镇（街道）便民服务中心；887个村(居)代理室"
        )
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
