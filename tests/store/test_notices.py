"""Written notices in the store: gapless numbers per office, kind and year; idempotent by key;
nothing written for bad content or a rolled-back transaction; concurrent issuers (threads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from daiban.core.codec import new_key
from daiban.core.sealed import Sealer
from daiban.domain.notices import NoticeContentError, content_sha256
from daiban.domain.offices import demo_offices
from daiban.store.db import load_offices, session_scope
from daiban.store.notices import (
    NoticeKeyReused,
    is_intact,
    issue_notice,
    notice_by_number,
    notice_by_sha256,
    opened_content,
    request_notices,
)
from models.db import NoticeCounter, NoticeRow
from tests.store.threads import race_twice

TZ = ZoneInfo("Asia/Shanghai")
SEALER = Sealer.from_spec(f"n1:{new_key()}")
JIANGSHAN = "370285004"  # 姜山镇
SHUIJI = "370285001"  # 水集街道
CITY = "370285000"  # 莱西市行政服务中心
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 local


@pytest.fixture(autouse=True)
def offices(engine: Engine) -> None:
    """The issuing office's name comes from the offices table."""
    load_offices(engine, demo_offices())


def acceptance(**extra: Any) -> dict[str, Any]:
    return {
        "item": "dibao",
        "item_name": "最低生活保障审核确认",
        "resident_name": "王秀英",
        "promised_date": "2027-01-08",
        **extra,
    }


def supplement() -> dict[str, Any]:
    return {
        "item": "dibao",
        "item_name": "最低生活保障审核确认",
        "resident_name": "王秀英",
        "missing_materials": ["收入证明", "户口簿"],
        "due_date": "2026-12-31",
    }


def issue(
    engine: Engine,
    key: str,
    *,
    office: str = JIANGSHAN,
    kind: str = "acceptance",
    at: datetime = T0,
    request_id: str = "r1",
    content: dict[str, Any] | None = None,
) -> NoticeRow:
    with session_scope(engine) as session:
        return issue_notice(
            session,
            request_id=request_id,
            key=key,
            office=office,
            kind=kind,
            issued_at=at,
            content=content if content is not None else acceptance(),
            sealer=SEALER,
            tz=TZ,
        )


def all_numbers(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(NoticeRow.number).order_by(col(NoticeRow.id))))


def test_numbers_are_gapless_per_office_kind_and_local_year(engine: Engine) -> None:
    first = [issue(engine, f"a{i}", at=T0 + timedelta(hours=i)).number for i in range(3)]
    assert first == ["姜山受〔2026〕0001号", "姜山受〔2026〕0002号", "姜山受〔2026〕0003号"]
    # Another kind, another office: sequences of their own.
    assert issue(engine, "s1", kind="supplement", content=supplement()).number == (
        "姜山补〔2026〕0001号"
    )
    assert issue(engine, "b1", office=SHUIJI).number == "水集受〔2026〕0001号"
    assert issue(engine, "c1", office=CITY).number == "莱西受〔2026〕0001号"
    # 2026-12-31 16:30 UTC is 00:30 on 1 January 2027 in the offices' time zone: a new year.
    new_year = issue(engine, "a-ny", at=datetime(2026, 12, 31, 16, 30, tzinfo=UTC))
    assert (new_year.number, new_year.year, new_year.seq) == ("姜山受〔2027〕0001号", 2027, 1)
    assert issue(engine, "a4").number == "姜山受〔2026〕0004号"


def test_content_is_canonical_and_hashed(engine: Engine) -> None:
    row = issue(engine, "k1", request_id="req-42")
    printed = opened_content(row, SEALER)
    assert printed == {
        **acceptance(),
        "number": "姜山受〔2026〕0001号",
        "kind": "acceptance",
        "office": JIANGSHAN,
        "issuer": "姜山镇便民服务中心",
        "issued_at": "2026-12-01T10:00:00+08:00",
        "request_id": "req-42",
    }
    assert row.sha256 == content_sha256(printed) and len(row.sha256) == 64
    # Stored: the resident's name masked and sealed, never in the clear.
    assert row.content["resident_name"]["masked"] == "王*英"
    assert "王秀英" not in str(row.content)
    with Session(engine) as session:
        stored = notice_by_number(session, row.number)
        assert stored is not None and stored.content == row.content
        assert is_intact(stored, SEALER)
        assert notice_by_sha256(session, row.sha256) == stored
        assert [n.number for n in request_notices(session, "req-42")] == [row.number]
        assert notice_by_sha256(session, "0" * 64) is None


def test_a_retry_with_the_same_key_gets_the_same_notice(engine: Engine) -> None:
    first = issue(engine, "retry-me")
    # The retry comes later (a new attempt of the activity): still the first notice, unchanged.
    again = issue(engine, "retry-me", at=T0 + timedelta(minutes=5))
    assert (again.id, again.number, again.sha256) == (first.id, first.number, first.sha256)
    assert issue(engine, "next").number == "姜山受〔2026〕0002号"
    assert len(all_numbers(engine)) == 2
    with pytest.raises(NoticeKeyReused):
        issue(engine, "retry-me", request_id="another-request")


def test_a_rolled_back_transaction_leaves_no_gap(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        row = issue_notice(
            session, request_id="r1", key="lost", office=JIANGSHAN, kind="acceptance",
            issued_at=T0, content=acceptance(), sealer=SEALER, tz=TZ,
        )  # fmt: skip
        assert row.number == "姜山受〔2026〕0001号"
        raise RuntimeError("the action's other writes failed")
    assert issue(engine, "kept").number == "姜山受〔2026〕0001号"
    assert all_numbers(engine) == ["姜山受〔2026〕0001号"]


@pytest.mark.parametrize(
    ("kind", "content", "field"),
    [
        ("acceptance", {**acceptance(), "promised_date": "soon"}, "promised_date"),
        ("acceptance", {k: v for k, v in acceptance().items() if k != "resident_name"},
         "resident_name"),
        ("supplement", {**supplement(), "missing_materials": []}, "missing_materials"),
        ("special_procedure", {**acceptance(), "procedure": "prayer", "expected_days": 5},
         "procedure"),
        ("acceptance", acceptance(number="forged"), "number"),
        ("no-such-kind", acceptance(), "kind"),
    ],
)  # fmt: skip
def test_bad_content_takes_no_number(
    engine: Engine, kind: str, content: dict[str, Any], field: str
) -> None:
    with pytest.raises(NoticeContentError) as caught:
        issue(engine, "bad", kind=kind, content=content)
    assert caught.value.field == field
    # An office that is not in the offices table cannot issue either.
    with pytest.raises(NoticeContentError) as caught:
        issue(engine, "bad", office="999999999", content=acceptance())
    assert caught.value.field == "office"
    assert all_numbers(engine) == []
    with Session(engine) as session:
        assert list(session.exec(select(NoticeCounter))) == []
    assert issue(engine, "good").number == "姜山受〔2026〕0001号"


def test_concurrent_issuers_get_gapless_unique_numbers(engine: Engine) -> None:
    """Threads issue notices of one sequence at once; every key is issued by two threads (an
    activity and its retry racing). Each key gets one number; the numbers are 1..n."""
    threads, per_thread = 6, 5
    keys = [f"k{i}" for i in range(threads * per_thread // 2)]
    results = race_twice(
        keys, threads, lambda key: issue(engine, key, request_id=f"req-{key}").number
    )
    assert all(len(numbers) == 1 for numbers in results.values()), results
    issued = sorted(numbers.pop() for numbers in results.values())
    assert issued == [f"姜山受〔2026〕{n:04d}号" for n in range(1, len(keys) + 1)]
    assert sorted(all_numbers(engine)) == issued
    with Session(engine) as session:
        counter = session.get(NoticeCounter, (JIANGSHAN, "acceptance", 2026))
        assert counter is not None and counter.last == len(keys)


def test_a_sealed_name_does_not_verify_in_another_notice(engine: Engine) -> None:
    """The name is sealed for its own notice: copied into another one, that notice fails to
    verify instead of printing someone else's name."""
    first, second = issue(engine, "n-a"), issue(engine, "n-b")
    with session_scope(engine) as session:
        other = session.get(NoticeRow, second.id)
        assert other is not None
        other.content = {**other.content, "resident_name": first.content["resident_name"]}
        session.add(other)
    with Session(engine) as session:
        moved = notice_by_number(session, second.number)
        assert moved is not None and not is_intact(moved, SEALER)
        assert is_intact(notice_by_number(session, first.number), SEALER)  # type: ignore[arg-type]
