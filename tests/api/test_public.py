"""Request numbers (办件编号) and the resident's progress lookup without login."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from api import create_app
from tests.api.conftest import RESIDENT, Caller, Stack, serve

NUMBER = re.compile(r"^370285-(\d{8})-(\d{4})$")
LAST4 = RESIDENT["id_number"][-4:]


def today() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")


async def test_each_request_gets_a_number_a_retry_keeps_it(agent: Caller) -> None:
    first = (await agent.submit()).json()
    second = (await agent.submit()).json()
    key = uuid.uuid4().hex
    keyed = (await agent.submit(key=key)).json()
    retried = await agent.submit(key=key)
    assert retried.status_code == 200 and retried.json()["number"] == keyed["number"]
    numbers = [first["number"], second["number"], keyed["number"]]
    matches = [NUMBER.match(n) for n in numbers]
    assert all(m is not None and m.group(1) == today() for m in matches), numbers
    assert len(set(numbers)) == 3
    # The number is on the request and in lists (what a clerk reads back to a caller).
    shown = (await agent.get(f"/v1/requests/{first['id']}")).json()
    assert shown["number"] == first["number"]
    items = (await agent.get("/v1/requests", limit=50)).json()["items"]
    assert {i["number"] for i in items if i["id"] in (first["id"], keyed["id"])} == {
        first["number"],
        keyed["number"],
    }


async def test_a_resident_looks_up_progress_by_number_and_id_digits(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    state = await staff.do(rid, "accept")
    number = state["number"]
    anonymous = stack.anonymous()
    found = await anonymous.get("/v1/public/progress", number=number, id_last4=LAST4)
    assert found.status_code == 200, found.text
    body = found.json()
    assert set(body) == {"number", "stage", "service_notice", "expected_at"}  # nothing else
    assert body["stage"] == "乡镇受理中"
    assert body["service_notice"] == state["service_notice"]
    assert body["expected_at"] == state["expected_at"]
    assert RESIDENT["name"] not in found.text and RESIDENT["phone"] not in found.text
    # Other digits and an unknown number answer the same 404.
    wrong = await anonymous.get("/v1/public/progress", number=number, id_last4="0000")
    unknown = await anonymous.get(
        "/v1/public/progress", number="370285-20261201-9999", id_last4=LAST4
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    # Malformed input is a 422 naming the field.
    bad = await anonymous.get("/v1/public/progress", number="42", id_last4="12345")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"number", "id_last4"}


async def test_progress_lookups_are_limited_per_client_address(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"progress_rate_per_minute": 3})
    app = create_app(settings, client=stack.client, engine=stack.engine)
    params = {"number": "370285-20261201-0001", "id_last4": "1234"}
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        statuses = [(await http.get("/v1/public/progress", params=params)).status_code]
        statuses += [(await http.get("/v1/public/progress", params=params)).status_code]
        statuses += [(await http.get("/v1/public/progress", params=params)).status_code]
        limited = await http.get("/v1/public/progress", params=params)
    assert statuses == [404, 404, 404]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"
