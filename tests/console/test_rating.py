"""The resident's own voice in the console: the link texted at delivery opens the rating page on
the resident's phone (overall and each tier that handled the request); on the agent's phone, a
code texted to the resident confirms the rating; a rating without it is shown as unconfirmed.

The SMS gateway is outside the system: what it would text is read from the outbox, opened with
the codec keys as the courier opens it."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook
from playwright.async_api import Browser, Page, expect
from sqlmodel import Session, col, select

from daiban.core.sealed import Sealer
from daiban.store.rating_proofs import outbox_context
from models.contracts import RESIDENT_RECIPIENT
from models.db import OutboxRow
from tests.api.conftest import VILLAGE
from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot

TOWNSHIP, CITY = "370285004", "370285000"


async def _delivered(stack: ConsoleStack, item: str = "linshi-jiuzhu") -> str:
    body = {"item": item, "resident": RESIDENT, "materials": ["申请书"]}
    rid: str = (await stack.api("POST", "/v1/requests", "agent", VILLAGE, json=body))["id"]
    steps = [("handoff", "agent", VILLAGE), ("accept", "township_staff", TOWNSHIP)]
    if item == "dibao":
        steps += [("forward", "township_staff", TOWNSHIP), ("accept", "city_staff", CITY)]
        steps += [("approve", "city_staff", CITY)]
    else:
        steps += [("approve", "township_staff", TOWNSHIP)]
    steps += [("deliver", "agent", VILLAGE)]
    for action, role, office in steps:
        path = f"/v1/requests/{rid}/actions"
        await stack.api("POST", path, role, office, json={"action": action})
    return rid


def _texted(stack: ConsoleStack, rid: str, kind: str) -> str:
    """The last text of this kind to the resident's phone, as the gateway gets it."""
    with Session(stack.engine) as session:
        row = session.exec(
            select(OutboxRow)
            .where(OutboxRow.request_id == rid, OutboxRow.recipient_role == RESIDENT_RECIPIENT)
            .where(OutboxRow.message == kind)
            .order_by(col(OutboxRow.id).desc())
        ).first()
    assert row is not None and row.sealed is not None
    text: str = Sealer.from_settings(stack.settings).open(row.sealed, outbox_context(rid))["text"]
    return text


async def _choose(page: Page, fieldset: str, words: str) -> None:
    await page.locator(f"{fieldset} label", has_text=words).first.click()


async def test_the_texted_link_rates_overall_and_by_tier(
    browser: Browser, stack: ConsoleStack
) -> None:
    rid = await _delivered(stack, "dibao")
    text = _texted(stack, rid, "rating_link")
    assert len(text) <= 70
    path = "/pj/" + text.rsplit("/pj/", 1)[1]
    async with person(browser, stack, None, phone=True) as resident:
        await resident.goto(path)
        await expect(resident.locator("h1")).to_have_text("请为这次服务评价")
        await expect(resident.locator("fieldset.tier-scores")).to_have_count(3)
        await expect(resident.locator("#tier-village legend")).to_contain_text("村(居)代理室")
        await expect(resident.locator("#tier-city legend")).to_contain_text("市行政服务中心")
        await shoot(resident, "resident-rate-tiers")
        await _choose(resident, "#overall", "基本满意")
        await _choose(resident, "#tier-township", "不满意")
        await resident.click("text=提交评价")
        await expect(resident.locator("h1")).to_have_text("谢谢您的评价")
        # Opened again, the link rates no more.
        await resident.goto(path)
        await expect(resident.locator("h1")).to_have_text("谢谢您的评价")
    state = await stack.api("GET", f"/v1/requests/{rid}", "agent", VILLAGE)
    assert state["rating"]["channel"] == "link"
    assert state["rating"]["tiers"] == {"township": 2}
    assert (state["stage"], state["responsible_office"]) == ("rectification", TOWNSHIP)
    # The supervisor's Excel export counts the township's bad score in its sheet of the offices
    # served, though the service as a whole was rated 基本满意.
    async with person(browser, stack, "supervisor") as supervisor:
        await supervisor.goto("/board")
        async with supervisor.expect_download() as download_info:
            await supervisor.click("#export")
        data = Path(await (await download_info.value).path()).read_bytes()
    sheet = load_workbook(io.BytesIO(data))["各办理单位评价（近12个月）"]
    header, *rows = sheet.iter_rows(values_only=True)
    assert header[:4] == ("办理单位", "代码", "层级", "评价数")
    by_office = {(row[1], row[2]): dict(zip(header, row, strict=True)) for row in rows}
    township = by_office[TOWNSHIP, "乡镇便民服务中心"]
    assert township["不满意"] >= 1 and township["差评"] >= 1
    assert all(row["差评"] == row["不满意"] + row["非常不满意"] for row in by_office.values())


async def test_the_agent_confirms_a_rating_with_the_texted_code(
    browser: Browser, stack: ConsoleStack
) -> None:
    rid = await _delivered(stack)
    async with person(browser, stack, "agent", phone=True) as agent:
        await agent.goto(f"/r/{rid}")
        await expect(agent.locator(".actions")).to_contain_text("评价链接已在送达时发到群众手机")
        await expect(agent.locator(".actions")).not_to_contain_text("现在没有需要您办理的事项")
        await shoot(agent, "agent-request-awaiting-rating")
        await agent.click("#rate-here")
        await expect(agent.locator("fieldset.tier-scores")).to_have_count(2)  # not the city
        await agent.click("#send-code")
        await expect(agent.locator("#code-sent")).to_contain_text(RESIDENT["phone"])
        code = "".join(c for c in _texted(stack, rid, "rating_code").split("确认码")[1][:6])
        await agent.fill("#confirmation_code", f"{(int(code) + 1) % 1_000_000:06d}")
        await _choose(agent, "#overall", "非常满意")
        await agent.click("text=提交评价")
        await expect(agent.locator(".error-summary")).to_contain_text("验证码不正确")
        await expect(agent.locator(".error-summary")).to_contain_text("还可以再试4次")
        await shoot(agent, "agent-rate-code-wrong")
        await agent.fill("#confirmation_code", code)
        await _choose(agent, "#tier-village", "非常满意")
        await agent.click("text=提交评价")
        await expect(agent.locator("#rating")).to_contain_text("群众本人短信验证码确认")
        await expect(agent.locator("#rating")).to_contain_text("村(居)代理室：5分")
        await shoot(agent, "agent-rated-with-code")
    state = await stack.api("GET", f"/v1/requests/{rid}", "agent", VILLAGE)
    assert (state["rating"]["channel"], state["rating"]["score"]) == ("sms_code", 5)


async def test_a_rating_without_the_code_is_shown_unconfirmed(
    browser: Browser, stack: ConsoleStack
) -> None:
    rid = await _delivered(stack)
    async with person(browser, stack, "agent", phone=True) as agent:
        await agent.goto(f"/r/{rid}/rate")
        await expect(agent.locator("form").last).to_contain_text("未经本人确认")
        await shoot(agent, "agent-rate-confirm")
        await _choose(agent, "#overall", "满意")
        await agent.click("text=提交评价")
        await expect(agent.locator("#rating .tag.unconfirmed")).to_have_text("未经本人确认")
        await expect(agent.locator("#rating")).to_contain_text("不计入满意率")
        await shoot(agent, "agent-rated-unconfirmed")
    state = await stack.api("GET", f"/v1/requests/{rid}", "agent", VILLAGE)
    assert state["rating"]["channel"] == "agent_unconfirmed"
