"""容缺受理 by clicking: the township window accepts with a gap, its form offering only the item's
gap list and asking for the resident's commitment; the agent sees the open gap with its due date
and presses 材料已补齐; only then may the window approve."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from tests.console.conftest import ConsoleStack, person, shoot
from tests.console.test_walk import act, register

ITEM = "linshi-jiuzhu"  # 临时救助, decided at the township; its gap list: 遭遇困难情况证明


async def test_a_gap_accepted_supplied_and_approved_by_clicking(
    browser: Browser, stack: ConsoleStack
) -> None:
    due = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    async with person(browser, stack, "agent", phone=True) as agent:
        request_id = await register(agent, f"gap-{uuid.uuid4().hex[:8]}", ITEM)
        await act(agent, "handoff")

    async with person(browser, stack, "township") as staff:
        await staff.goto(f"/r/{request_id}")
        form = staff.locator("#form-accept_with_gap")
        # Only the item's gap list, never its main materials.
        await expect(form.locator("input[type=checkbox]")).to_have_count(1)
        await expect(form).to_contain_text("遭遇困难情况证明")
        await expect(form).not_to_contain_text("居民身份证")
        await expect(form.locator('input[name="commitment"]')).to_be_visible()
        await form.locator("input[type=checkbox]").check()
        await form.locator('input[name="due"]').fill(due.isoformat())
        await act(staff, "accept_with_gap")  # no commitment: said beside the form (422)
        await expect(staff.locator(".error-summary")).to_contain_text("请填写承诺书编号或内容")
        await shoot(staff, "staff-gap-422")
        form = staff.locator("#form-accept_with_gap")
        await expect(form.locator("input[type=checkbox]")).to_be_checked()  # kept
        await expect(form.locator('input[name="due"]')).to_have_value(due.isoformat())
        await form.locator('input[name="commitment"]').fill("承诺书 LX-017")
        await act(staff, "accept_with_gap")
        await expect(staff.locator(".notice-ok")).to_contain_text("已办理：容缺受理")
        await expect(staff.locator("#gap")).to_contain_text("待补齐")
        await expect(staff.locator("#gap")).to_contain_text(f"{due.month}月{due.day}日")
        await expect(staff.locator('button[data-action="approve"]')).to_have_count(0)
        await expect(staff.locator('button[data-action="deny"]')).to_be_visible()
        await shoot(staff, "staff-gap-open")

    async with person(browser, stack, "agent", phone=True) as agent:
        await agent.goto(f"/r/{request_id}")
        await expect(agent.locator("#gap")).to_contain_text("遭遇困难情况证明")
        await expect(agent.locator("#gap")).to_contain_text(f"请于 {due.month}月{due.day}日 前补齐")
        await shoot(agent, "agent-gap-open")
        await agent.goto("/agent")
        tile = agent.locator(".tile", has=agent.locator(f'a[href="/r/{request_id}"]'))
        await expect(tile).to_contain_text(f"收齐容缺材料，{due.month}月{due.day}日前交来")
        await shoot(agent, "agent-gap-list")
        await agent.goto(f"/r/{request_id}")
        await act(agent, "supply_gap")
        await expect(agent.locator(".notice-ok")).to_contain_text("已办理：材料已补齐")
        await expect(agent.locator("#gap")).to_contain_text("已补齐")
        await expect(agent.locator('button[data-action="supply_gap"]')).to_have_count(0)
        await shoot(agent, "agent-gap-supplied")

    async with person(browser, stack, "township") as staff:
        await staff.goto(f"/r/{request_id}")
        await act(staff, "approve")
        await expect(staff.locator(".summary")).to_contain_text("待送达")

    state = await stack.api("GET", f"/v1/requests/{request_id}", "agent", "370285004001")
    assert state["gap"]["status"] == "supplied"
    assert state["gap"]["commitment"] == "承诺书 LX-017"
    assert [h["action"] for h in state["history"]][-3:] == [
        "accept_with_gap",
        "supply_gap",
        "approve",
    ]
