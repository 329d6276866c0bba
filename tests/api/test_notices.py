"""Written notices over HTTP: a request's list, one notice as HTML or PDF, and the public check by
SHA-256 — with their 401, 403, 404 and 422 cases. Notices are issued with ``issue_notice`` (as
the workflow's activity will) for requests submitted through the API."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from daiban.core.sealed import Sealer
from daiban.store.db import session_scope
from daiban.store.notices import issue_notice
from tests.api.conftest import (
    CITY,
    FAR_VILLAGE,
    NEIGHBOUR,
    OTHER_TOWNSHIP,
    RESIDENT,
    TOWNSHIP,
    VILLAGE,
    Caller,
    Stack,
)

ISSUED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def issue(stack: Stack, request_id: str, kind: str, key: str, **fields: Any) -> tuple[str, str]:
    """Issue a notice for a request as the workflow's activity will; its number and SHA-256."""
    given = {
        "item": "linshi-jiuzhu",
        "item_name": "临时救助",
        "resident_name": RESIDENT["name"],
        **fields,
    }
    with session_scope(stack.engine) as session:
        row = issue_notice(
            session,
            request_id=request_id,
            key=key,
            office=TOWNSHIP,
            kind=kind,
            issued_at=ISSUED + timedelta(minutes=len(key)),
            content=given,
            sealer=Sealer.from_settings(stack.settings),
            tz=ZoneInfo(stack.settings.timezone),
        )
        return row.number, row.sha256


async def get(
    caller: Caller, path: str, accept: str | None = None, timeout: float = 5.0
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {caller.token}"} if caller.token else {}
    if accept:
        headers["Accept"] = accept
    return await caller.http.get(path, headers=headers, timeout=timeout)


def notice_path(number: str) -> str:
    return "/v1/notices/" + quote(number)


class Issued:
    def __init__(self, request_id: str, accepted: tuple[str, str], refused: tuple[str, str]):
        self.request_id = request_id
        self.accepted, self.refused = accepted, refused


@pytest.fixture(scope="module")
async def issued(stack: Stack, agent: Caller) -> Issued:
    rid = await agent.new_request()
    accepted = issue(stack, rid, "acceptance", f"{rid}:accept", promised_date="2026-12-15")
    refused = issue(stack, rid, "refusal", f"{rid}:refuse:1", reason="申请人不属于本镇户籍<script>")
    return Issued(rid, accepted, refused)


async def test_a_requests_notices_are_listed_in_scope(
    stack: Stack, agent: Caller, staff: Caller, issued: Issued
) -> None:
    for caller in (agent, staff, stack.caller("supervisor", TOWNSHIP), stack.caller("admin", CITY)):
        response = await get(caller, f"/v1/requests/{issued.request_id}/notices")
        assert response.status_code == 200, (caller.role, response.text)
        items = response.json()["items"]
        assert [n["number"] for n in items] == [issued.accepted[0], issued.refused[0]]
        first = items[0]
        assert first["kind"] == "acceptance" and first["title"] == "受理通知书"
        assert first["sha256"] == issued.accepted[1] and first["office"] == TOWNSHIP
        assert first["issuer"] == "姜山镇便民服务中心"
        assert first["issued_at"].endswith("+08:00")
        assert RESIDENT["name"] not in response.text
    # A request without notices: an empty list.
    other = await agent.new_request()
    response = await get(agent, f"/v1/requests/{other}/notices")
    assert response.status_code == 200 and response.json() == {"items": []}


@pytest.mark.parametrize(
    ("role", "office"),
    [
        ("agent", NEIGHBOUR),
        ("agent", FAR_VILLAGE),
        ("township_staff", OTHER_TOWNSHIP),
        ("city_staff", CITY),  # not forwarded to the city
        ("supervisor", OTHER_TOWNSHIP),
    ],
)
async def test_out_of_scope_is_a_404_like_an_unknown_request(
    stack: Stack, issued: Issued, role: str, office: str
) -> None:
    caller = stack.caller(role, office)
    listed = await get(caller, f"/v1/requests/{issued.request_id}/notices")
    unknown = await get(caller, "/v1/requests/no-such-request/notices")
    assert listed.status_code == unknown.status_code == 404
    assert listed.json()["detail"] == unknown.json()["detail"]
    one = await get(caller, notice_path(issued.accepted[0]))
    missing = await get(caller, notice_path("姜山受〔2026〕9999号"))
    assert one.status_code == missing.status_code == 404
    assert one.json()["detail"] == missing.json()["detail"] == "no such notice"
    assert one.headers["content-type"].startswith("application/problem+json")


async def test_no_token_is_401_and_a_rating_link_is_403(stack: Stack, issued: Issued) -> None:
    anonymous = stack.anonymous()
    for path in (f"/v1/requests/{issued.request_id}/notices", notice_path(issued.accepted[0])):
        assert (await get(anonymous, path)).status_code == 401
        assert (await get(stack.anonymous("not-a-jwt"), path)).status_code == 401
        link = stack.anonymous(
            stack.token("rating_link", VILLAGE, "resident:x", req=issued.request_id)
        )
        assert (await get(link, path)).status_code == 403


async def test_bad_ids_are_422(agent: Caller) -> None:
    assert (await get(agent, "/v1/requests/bad%20id!/notices")).status_code == 422
    response = await get(agent, "/v1/notices/" + "号" * 65)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "number"
    assert (await get(agent, "/v1/notices/%01")).status_code == 422


async def test_a_notice_is_printable_html_by_default(agent: Caller, issued: Issued) -> None:
    number, sha256 = issued.refused
    for accept in (None, "text/html,application/xhtml+xml,*/*;q=0.8", "text/html, application/pdf"):
        response = await get(agent, notice_path(number), accept)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-store"
        page = response.text
        for expected in ("不予受理决定书", number, f"{RESIDENT['name']}：", "姜山镇便民服务中心",
                         sha256, "六十日内", "@page { size: A4"):  # fmt: skip
            assert expected in page, expected
        assert "<script>" not in page and "&lt;script&gt;" in page


async def test_a_notice_is_a_pdf_when_asked(staff: Caller, issued: Issued, tmp_path: Path) -> None:
    number, sha256 = issued.accepted
    # A PDF takes seconds of CPU the first time (fpdf2, the CJK font): more on a busy machine.
    response = await get(staff, notice_path(number), "application/pdf", timeout=120)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    path = tmp_path / "notice.pdf"
    path.write_bytes(response.content)
    extracted = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    flat = "".join(extracted.split())
    for expected in (number, "受理通知书", RESIDENT["name"], "2026年12月15日前办结", sha256):
        assert expected in flat, expected


async def test_verify_names_the_record_and_nothing_personal(stack: Stack, issued: Issued) -> None:
    anonymous = stack.anonymous()
    number, sha256 = issued.accepted
    response = await get(anonymous, f"/v1/notices/verify?sha256={sha256.upper()}")
    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "number": number,
        "kind": "acceptance",
        "title": "受理通知书",
        "issued_at": response.json()["issued_at"],
        "office": TOWNSHIP,
        "issuer": "姜山镇便民服务中心",
    }
    assert response.json()["issued_at"].startswith("2026-12-01T10:")
    for personal in RESIDENT.values():
        assert personal not in response.text
    unknown = await get(anonymous, "/v1/notices/verify?sha256=" + "0" * 64)
    assert unknown.status_code == 200 and unknown.json()["valid"] is False
    assert unknown.json()["number"] is None


@pytest.mark.parametrize("query", ["", "?sha256=abc", "?sha256=" + "g" * 64])
async def test_verify_refuses_a_malformed_hash(stack: Stack, query: str) -> None:
    response = await get(stack.anonymous(), f"/v1/notices/verify{query}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sha256"


async def test_an_edited_notice_no_longer_verifies(
    stack: Stack, agent: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rid = await agent.new_request()
    number, sha256 = issue(stack, rid, "denial", f"{rid}:deny", reason="收入超过标准")
    with stack.engine.begin() as connection:
        # Someone with database access rewrites the reason in the stored content.
        row = connection.execute(
            text("SELECT content FROM notices WHERE number = :n"), {"n": number}
        ).one()
        content = row[0] if isinstance(row[0], dict) else json.loads(row[0])
        content["reason"] = "材料不全"
        connection.execute(
            text("UPDATE notices SET content = :c WHERE number = :n"),
            {"c": json.dumps(content, ensure_ascii=False), "n": number},
        )
    response = await get(stack.anonymous(), f"/v1/notices/verify?sha256={sha256}")
    assert response.status_code == 200 and response.json()["valid"] is False
    assert response.json()["number"] == number
    # Reading notices never writes the resident's name to a log.
    await get(agent, notice_path(number))
    assert RESIDENT["name"] not in caplog.text
