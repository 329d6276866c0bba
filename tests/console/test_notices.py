"""Window staff print a request's notices from its page: the list, the printable page and the
PDF, in the staff's scope as through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser

from daiban.core.sealed import Sealer
from daiban.store.db import session_scope
from daiban.store.notices import issue_notice
from tests.api.conftest import TOWNSHIP, VILLAGE
from tests.console.conftest import RESIDENT, ConsoleStack, person, shoot


async def test_staff_print_the_notices_of_a_request(browser: Browser, stack: ConsoleStack) -> None:
    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    state = await stack.api("POST", "/v1/requests", "agent", VILLAGE, json=body)
    rid = state["id"]
    handoff = {"action": "handoff"}
    await stack.api("POST", f"/v1/requests/{rid}/actions", "agent", VILLAGE, json=handoff)
    with session_scope(stack.engine) as session:
        notice = issue_notice(
            session,
            request_id=rid,
            key=f"{rid}:accept",
            office=TOWNSHIP,
            kind="acceptance",
            issued_at=datetime.now(UTC),
            content={
                "item": "linshi-jiuzhu",
                "item_name": "临时救助",
                "resident_name": RESIDENT["name"],
                "promised_date": "2026-12-15",
            },
            sealer=Sealer.from_settings(stack.settings),
            tz=ZoneInfo(stack.settings.timezone),
        )
        number = notice.number
    async with person(browser, stack, "township") as staff:
        await staff.goto(f"/r/{rid}")
        listed = staff.locator(".notices li")
        assert await listed.count() == 1
        text = await listed.inner_text()
        assert "受理通知书" in text and number in text
        await shoot(staff, "staff-request-notices")
        async with staff.expect_popup() as popup:
            await listed.get_by_role("link", name="打印").click()
        printable = await popup.value
        await printable.wait_for_load_state()
        page_text = await printable.inner_text("body")
        assert number in page_text and RESIDENT["name"] in page_text
        pdf = await staff.request.get(f"/n/{number}/pdf")
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        assert (await pdf.body()).startswith(b"%PDF")
    # An agent of another village finds no such notice.
    async with person(browser, stack, "agent-far") as other:
        response = await other.request.get(f"/n/{number}")
        assert response.status == 404
