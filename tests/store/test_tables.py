"""Constraints, types and helpers of the tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import select

from daiban.store.calendar import (
    calendar_version,
    list_calendar_years,
    list_overrides,
    load_calendar_year,
    remove_override,
    set_override,
)
from daiban.store.db import session_scope, upsert_request
from models.db import LedgerRow, OutboxRow, RatingRow, RequestRow

SHANGHAI = timezone(timedelta(hours=8))
TZ = ZoneInfo("Asia/Shanghai")


def ledger_row(**overrides: Any) -> LedgerRow:
    values: dict[str, Any] = {
        "request_id": "r1",
        "seq": 1,
        "event_key": "submit",
        "kind": "stage",
        "actor": "agent-1",
        "role": "agent",
        "office": "370285001001",
        "to_stage": "village_intake",
        "prev_hash": "0" * 64,
        "hash": "a" * 64,
    }
    return LedgerRow(**{**values, **overrides})


def outbox_row(**overrides: Any) -> OutboxRow:
    values: dict[str, Any] = {
        "request_id": "r1",
        "event_key": "r1:yellow:official",
        "recipient_office": "370285001",
        "recipient_role": "township_staff",
        "level": "yellow",
        "message": "黄牌:最低生活保障审核确认 即将超时",
    }
    return OutboxRow(**{**values, **overrides})


def request_row(**overrides: Any) -> RequestRow:
    values: dict[str, Any] = {
        "id": "r1",
        "item": "dibao",
        "village": "370285001001",
        "township": "370285001",
        "city": "370285000",
        "stage": "township_review",
        "responsible_office": "370285001",
        "agent": "agent-1",
        "version": 1,
        "deadline": datetime(2026, 12, 8, 17, 0, tzinfo=SHANGHAI),
        "state": {
            "resident": {"name": "王*英", "id_number": "370285********0023"},
            "materials": ["户口簿", "身份证", "收入证明"],
            "service_notice": "您的申请已受理,请耐心等待。",
            "nested": {"list": [1, 2.5, None, True]},
        },
    }
    return RequestRow(**{**values, **overrides})


def _insert_twice(engine: Engine, first: Any, second: Any) -> None:
    with session_scope(engine) as session:
        session.add(first)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(second)


def test_ledger_rejects_a_duplicate_event_key(engine: Engine) -> None:
    _insert_twice(engine, ledger_row(), ledger_row(seq=2))
    with session_scope(engine) as session:
        assert len(session.exec(select(LedgerRow)).all()) == 1


def test_ledger_rejects_a_duplicate_seq(engine: Engine) -> None:
    _insert_twice(engine, ledger_row(), ledger_row(event_key="handoff"))


def test_ledger_ids_autoincrement(engine: Engine) -> None:
    with session_scope(engine) as session:
        first, second = ledger_row(), ledger_row(seq=2, event_key="handoff")
        session.add_all([first, second])
        session.flush()
        assert first.id is not None and second.id == first.id + 1


def test_outbox_rejects_a_duplicate_recipient(engine: Engine) -> None:
    _insert_twice(engine, outbox_row(), outbox_row(message="again"))
    with session_scope(engine) as session:
        session.add(outbox_row(recipient_role="supervisor"))  # another recipient is fine


def test_check_constraints_reject_unknown_values(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(request_row(overdue="orange"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(RatingRow(request_id="r1", score=6, office="370285001", township="370285001"))


def test_request_state_round_trips_chinese_text(engine: Engine) -> None:
    row = request_row()
    with session_scope(engine) as session:
        session.add(row)
    with session_scope(engine) as session:
        loaded = session.get(RequestRow, "r1")
        assert loaded is not None
        assert loaded.state == row.state
        assert loaded.state["resident"]["name"] == "王*英"
        # Stored readable, not as \uXXXX escapes.
        stored = session.exec(text("SELECT CAST(state AS TEXT) FROM requests")).one()  # type: ignore[call-overload]
        assert "收入证明" in stored[0]


def test_timestamps_come_back_aware_in_utc(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(request_row())
    with session_scope(engine) as session:
        loaded = session.get(RequestRow, "r1")
        assert loaded is not None and loaded.deadline is not None
        assert loaded.deadline.tzinfo is not None
        assert loaded.deadline == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
        assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), session_scope(engine) as session:
        session.add(request_row(deadline=datetime(2026, 12, 8, 17, 0)))


def test_upsert_request_never_replaces_a_newer_version(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert upsert_request(session, request_row(version=2, stage="township_review"), TZ)
    with session_scope(engine) as session:
        assert not upsert_request(session, request_row(version=1, stage="village_intake"), TZ)
        assert not upsert_request(session, request_row(version=2, stage="village_intake"), TZ)
    with session_scope(engine) as session:
        assert upsert_request(
            session, request_row(version=3, stage="city_review", state={"阶段": "市级审核"}), TZ
        )
    with session_scope(engine) as session:
        loaded = session.get(RequestRow, "r1")
        assert loaded is not None
        assert (loaded.version, loaded.stage, loaded.state) == (
            3,
            "city_review",
            {"阶段": "市级审核"},
        )


def _changes_version(engine: Engine, change: Callable[[Any], object]) -> None:
    with session_scope(engine) as session:
        before = calendar_version(session)
    with session_scope(engine) as session:
        change(session)
    with session_scope(engine) as session:
        assert calendar_version(session) != before


def test_calendar_helpers_and_version(engine: Engine) -> None:
    _changes_version(engine, lambda s: set_override(s, date(2027, 1, 1), "holiday", "元旦"))
    _changes_version(engine, lambda s: set_override(s, date(2027, 1, 1), "holiday", "New Year"))
    _changes_version(engine, lambda s: set_override(s, date(2027, 2, 7), "workday"))
    _changes_version(engine, lambda s: remove_override(s, date(2027, 2, 7)))
    _changes_version(
        engine,
        lambda s: load_calendar_year(
            s, 2027, [date(2027, 1, 1), date(2027, 2, 8)], [date(2027, 2, 6)]
        ),
    )
    with session_scope(engine) as session:
        assert [(o.day, o.kind) for o in list_overrides(session, 2027)] == [
            (date(2027, 1, 1), "holiday"),
            (date(2027, 2, 6), "workday"),
            (date(2027, 2, 8), "holiday"),
        ]
        assert [y.year for y in list_calendar_years(session)] == [2027]
        assert not remove_override(session, date(2027, 3, 3))
    with pytest.raises(ValueError, match="holiday or workday"), session_scope(engine) as session:
        set_override(session, date(2027, 1, 4), "weekend")
    with pytest.raises(ValueError, match="both"), session_scope(engine) as session:
        load_calendar_year(session, 2028, [date(2028, 1, 1)], [date(2028, 1, 1)])
