"""Request numbers (办件编号) and the resident's progress lookup without login."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from api import create_app
from tests.api.conftest import CITY, RESIDENT, TOWNSHIP, Caller, Stack, serve

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
    # An app of its own: other tests of the session (schemathesis) use up the shared limit.
    settings = stack.settings.model_copy(update={"progress_rate_per_minute": 100})
    app = create_app(settings, client=stack.client, engine=stack.engine)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:

        async def lookup(**params: str) -> httpx.Response:
            return await http.get("/v1/public/progress", params=params)

        found = await lookup(number=number, id_last4=LAST4)
        assert found.status_code == 200, found.text
        body = found.json()
        assert set(body) == {"number", "stage", "service_notice", "expected_at"}  # nothing else
        assert body["stage"] == "乡镇受理中"
        assert body["service_notice"] == state["service_notice"]
        assert body["expected_at"] == state["expected_at"]
        assert RESIDENT["name"] not in found.text and RESIDENT["phone"] not in found.text
        # Other digits and an unknown number answer the same 404.
        wrong = await lookup(number=number, id_last4="0000")
        unknown = await lookup(number="370285-20261201-9999", id_last4=LAST4)
        assert wrong.status_code == unknown.status_code == 404
        assert wrong.json() == unknown.json()
        # Malformed input is a 422 naming the field.
        bad = await lookup(number="42", id_last4="12345")
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


async def test_published_figures_match_the_supervisors_and_need_no_login(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    # A request decided and rated badly this month, so that every rate has something to count.
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    await staff.do(rid, "accept")
    await staff.do(rid, "approve", note="符合条件")
    await agent.do(rid, "deliver")
    # Rated by the resident's own act (a rating link): the agent's unconfirmed word is not counted.
    link = (await agent.post(f"/v1/requests/{rid}/rating-link")).json()["token"]
    rated = await stack.anonymous(link).post(
        f"/v1/requests/{rid}/rating", {"score": 1, "comment": "等了很久"}
    )
    assert rated.status_code == 200, rated.text
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    anonymous = stack.anonymous()
    published = await anonymous.get("/v1/public/stats", month=month)
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["month"] == month
    first, last = f"{month}-01", _month_end(month).isoformat()
    admin = stack.caller("admin", CITY)
    internal = (await admin.get("/v1/stats", **{"from": first, "to": last})).json()["offices"]
    assert [o["office"] for o in body["offices"]] == [o["office"] for o in internal]
    for public, full in zip(body["offices"], internal, strict=True):
        ratings, upheld = full["ratings"], full["appeals_upheld"]
        rated = sum(ratings.values()) - upheld  # an upheld appeal takes a bad rating out
        assert public["requests"] == full["total"] and public["rated"] == rated
        assert public["bad"] == ratings["1"] + ratings["2"] - upheld
        assert public["appeals_upheld"] == upheld
        assert public["satisfaction_rate"] == full["satisfaction_rate"]
        assert public["bad_rate"] == full["bad_rate"]
        assert public["callback_rate"] == full["callback_rate"]
        assert public["on_time_rate"] == full["on_time_rate"]
        assert public["rectified_rate"] == full["rectified_rate"]
    ours = next(o for o in body["offices"] if o["office"] == TOWNSHIP)
    assert ours["bad"] >= 1 and ours["bad_rate"] is not None and ours["bad_rate"] > 0
    assert RESIDENT["name"] not in published.text and rid not in published.text
    # The CSV holds the same figures, for Excel (a byte-order mark, then the header).
    sheet = await anonymous.get("/v1/public/stats.csv", month=month)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert [r["office"] for r in rows] == [o["office"] for o in body["offices"]]
    mine = next(r for r in rows if r["office"] == TOWNSHIP)
    assert int(mine["bad"]) == ours["bad"] and float(mine["bad_rate"]) == ours["bad_rate"]
    # A month that is not one is a 422; a month with nothing registered, an empty list.
    for wrong in ("2026-13", "0000-01", "9999-12", "2026-1"):
        assert (await anonymous.get("/v1/public/stats", month=wrong)).status_code == 422
    empty = await anonymous.get("/v1/public/stats", month="2001-01")
    assert empty.status_code == 200 and empty.json()["offices"] == []


def _month_end(month: str) -> date:
    year, number = (int(p) for p in month.split("-"))
    return date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)


async def test_each_office_served_is_published_with_the_ratings_it_gave(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    """A township rated bad under a good overall score counts bad for that township, in the
    supervisors' figures per office and in the published ones; the village proxy room counts
    the score the resident gave it, and the city, which did not serve, nothing."""
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    span = {"from": f"{month}-01", "to": _month_end(month).isoformat()}
    admin = stack.caller("admin", CITY)

    async def by_office() -> dict[tuple[str, str], dict[str, int]]:
        response = await admin.get("/v1/stats/ratings", **span)
        assert response.status_code == 200, response.text
        return {(o["tier"], o["office"]): o["ratings"] for o in response.json()["offices"]}

    before = await by_office()
    rid = await agent.new_request()  # decided at the township
    await agent.do(rid, "handoff")
    await staff.do(rid, "accept")
    await staff.do(rid, "approve", note="符合条件")
    await agent.do(rid, "deliver")
    link = (await agent.post(f"/v1/requests/{rid}/rating-link")).json()["token"]
    rating = {"score": 5, "tiers": {"village": 4, "township": 1}}
    rated = await stack.anonymous(link).post(f"/v1/requests/{rid}/rating", rating)
    assert rated.status_code == 200, rated.text
    after = await by_office()

    def added(tier: str, office: str) -> dict[str, int]:
        was, now = before.get((tier, office), {}), after.get((tier, office), {})
        return {n: c - was.get(n, 0) for n, c in now.items() if c != was.get(n, 0)}

    assert added("township", TOWNSHIP) == {"1": 1}  # its own score, not the overall 5
    assert added("village", agent.office) == {"4": 1}
    assert {key for key in after if key[0] == "city"} == {key for key in before if key[0] == "city"}
    # Published without login: the same rows, and the same as CSV.
    anonymous = stack.anonymous()
    published = (await anonymous.get("/v1/public/stats", month=month)).json()["rated_offices"]
    internal = (await admin.get("/v1/stats/ratings", **span)).json()["offices"]
    assert published == internal
    sheet = await anonymous.get("/v1/public/ratings.csv", month=month)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert [(r["tier"], r["office"]) for r in rows] == [(o["tier"], o["office"]) for o in internal]
    ours = next(r for r in rows if (r["tier"], r["office"]) == ("township", TOWNSHIP))
    mine = next(o for o in internal if (o["tier"], o["office"]) == ("township", TOWNSHIP))
    assert int(ours["rating_1"]) == mine["ratings"]["1"] and int(ours["bad"]) == mine["bad"]
    assert RESIDENT["name"] not in sheet.text and rid not in sheet.text
    # A township's supervisor sees its own township's offices only; an agent, none.
    other = stack.caller("supervisor", "370285010")
    seen = (await other.get("/v1/stats/ratings", **span)).json()["offices"]
    assert TOWNSHIP not in {o["office"] for o in seen} and agent.office not in {
        o["office"] for o in seen
    }
    assert (await agent.get("/v1/stats/ratings")).status_code == 403
    assert (await anonymous.get("/v1/stats/ratings")).status_code == 401
