"""The monthly figures a county publishes, read by anyone on a phone without login: the page shows
what ``/v1/public/stats`` answers, in words, and a township rated bad by a resident shows it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from daiban.console.publicity import percent
from tests.api.conftest import VILLAGE
from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot

TOWNSHIP = "370285004"


async def _rated_badly_at_the_township(stack: ConsoleStack) -> None:
    """A request decided at the township, rated 4 overall and 2 for the township by the resident's
    own rating link."""
    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    rid = (await stack.api("POST", "/v1/requests", "agent", VILLAGE, json=body))["id"]
    for action, role, office in (
        ("handoff", "agent", VILLAGE),
        ("accept", "township_staff", TOWNSHIP),
        ("approve", "township_staff", TOWNSHIP),
        ("deliver", "agent", VILLAGE),
    ):
        path = f"/v1/requests/{rid}/actions"
        await stack.api("POST", path, role, office, json={"action": action})
    link = await stack.api("POST", f"/v1/requests/{rid}/rating-link", "agent", VILLAGE)
    rated = await stack.http.post(
        f"/v1/requests/{rid}/rating",
        json={"score": 4, "tiers": {"township": 2}},
        headers={"Authorization": f"Bearer {link['token']}"},
    )
    assert rated.status_code == 200, rated.text


async def test_anyone_reads_the_months_figures_without_login(
    browser: Browser, stack: ConsoleStack
) -> None:
    await _rated_badly_at_the_township(stack)
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    month = f"{now.year:04d}-{now.month:02d}"
    published = (await stack.http.get("/v1/public/stats", params={"month": month})).json()
    async with person(browser, stack, None, phone=True) as page:
        await page.goto("/gongshi")
        await expect(page.locator("h1")).to_have_text(
            f"办事服务评价公示 · {now.year}年{now.month}月"
        )
        # Each township's row says what the API publishes, rates in per cent.
        for office in published["offices"]:
            cells = await page.locator(f'#townships tr[data-office="{office["office"]}"] td').all()
            texts = [await cell.inner_text() for cell in cells]
            assert texts[0] == office["name"]
            assert texts[1:3] == [str(office["requests"]), str(office["completed"])]
            assert texts[4:8] == [
                str(office["rated"]), percent(office["satisfaction_rate"]), str(office["bad"]),
                percent(office["bad_rate"]),
            ]  # fmt: skip
        # The township the resident rated 2 carries a bad rating among the offices served,
        # though the service as a whole was rated 4.
        ours = next(
            r
            for r in published["rated_offices"]
            if (r["tier"], r["office"]) == ("township", TOWNSHIP)
        )
        row = page.locator(f'#rated-offices tr[data-office="{TOWNSHIP}"][data-tier="township"]')
        await expect(row).to_contain_text("乡镇便民服务中心")
        assert ours["bad"] >= 1
        await expect(row.locator("td").nth(4)).to_have_text(str(ours["bad"]))
        await expect(
            page.locator(f'a[href="/v1/public/ratings.csv?month={month}"]')
        ).to_be_visible()
        # The townships' table is wider than a phone: it says it scrolls sideways, and the
        # township's name stays in place while the figures move under it.
        await expect(page.locator(".swipe-hint")).to_be_visible()
        table = page.locator("#townships")
        name = table.locator("tbody tr td").first
        before = await name.bounding_box()
        assert await table.evaluate("t => t.scrollWidth > t.clientWidth")
        await table.evaluate("t => { t.scrollLeft = t.scrollWidth; }")
        after = await name.bounding_box()
        assert before is not None and after is not None
        assert abs(after["x"] - before["x"]) < 1, (before, after)
        await expect(name).to_be_visible()
        await shoot(page, "publicity")
        await page.evaluate("document.querySelector('#townships').scrollLeft = 0")
        # An earlier month with nothing registered says so; a month that is not one, in words.
        await page.select_option("#month", index=11)
        await page.click("text=查看")
        await expect(page.locator("#townships")).to_contain_text("这个月还没有登记的办件")
        response = await page.goto("/gongshi?month=2026-13")
        assert response is not None and response.status == 422
        await expect(page.locator(".error-summary")).to_contain_text("请选择要查看的月份")
