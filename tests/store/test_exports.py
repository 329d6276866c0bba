"""The export outbox: a closed request is queued once, a rating each time what it says changes,
never twice for one recorded state, and never with the resident in it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from activities.calendar_source import CalendarSource
from activities.records import project
from daiban.cli.main import app
from daiban.core.sealed import Sealer
from daiban.core.settings import Settings
from daiban.store.db import session_scope, upsert_request
from daiban.store.exports import backfill, export_counts, queue_exports
from models.contracts import RatingInfo, RequestState, Resident
from models.db import ExportRow, Office

AT = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)
NUMBER = "370285-20300304-0042"
RESIDENT = Resident("王秀英", "370285194802150024", "13805321234")


def closed(version: int = 6, **changes: object) -> RequestState:
    """A township item approved on time and rated 5, closed at ``AT`` + 10 days."""
    state = RequestState(
        id="r-export", item="linshi-jiuzhu", item_name="临时救助", deciding_tier="township",
        village="370285004001", township="370285004", city="370285000",
        stage="completed", status="closed", responsible_office="370285004001",
        resident=RESIDENT, agent="agent-1", channel="agent",
        created_at=AT, updated_at=AT + timedelta(days=10), accepted_at=AT + timedelta(days=1),
        decided_at=AT + timedelta(days=8), decision="approved", on_time=True,
        handling_office="370285004", number=NUMBER, version=version,
        rating=RatingInfo(score=5, at=AT + timedelta(days=10), comment="王秀英 13805321234 很好"),
    )  # fmt: skip
    return replace(state, **changes)  # type: ignore[arg-type]


def queue(engine: Engine, state: RequestState, working_days: int | None = 6) -> list[str]:
    with session_scope(engine) as session:
        return [row.key for row in queue_exports(session, state, working_days)]


def rows(engine: Engine) -> list[ExportRow]:
    with Session(engine) as session:
        return list(session.exec(select(ExportRow).order_by(col(ExportRow.id))))


@pytest.fixture
def offices(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        session.add(
            Office(code="370285004001", name="阎家疃村", tier="village", parent="370285004")
        )
        session.add(Office(code="370285004", name="姜山镇", tier="township", parent="370285000"))
        session.add(Office(code="370285000", name="莱西市行政服务中心", tier="city"))
    return engine


def test_a_closed_rated_request_is_queued_once_with_its_rating(offices: Engine) -> None:
    state = closed()
    assert queue(offices, state) == [f"{NUMBER}:request:1", f"{NUMBER}:rating:1"]
    # The recording retried (same state), and retried again: nothing more.
    assert queue(offices, state) == []
    assert queue(offices, state) == []
    request, rating = rows(offices)
    assert request.record == {
        "schema": "daiban.export/1", "key": f"{NUMBER}:request:1", "seq": 1, "kind": "request",
        "number": NUMBER, "item": {"code": "linshi-jiuzhu", "name": "临时救助"},
        "offices": {
            "village": {"code": "370285004001", "name": "阎家疃村"},
            "township": {"code": "370285004", "name": "姜山镇"},
            "city": {"code": "370285000", "name": "莱西市行政服务中心"},
            "handling": {"code": "370285004", "name": "姜山镇"},
        },
        "deciding_tier": "township", "stage": "completed",
        "submitted_at": "2030-03-04T01:00:00+00:00", "accepted_at": "2030-03-05T01:00:00+00:00",
        "decided_at": "2030-03-12T01:00:00+00:00", "closed_at": "2030-03-14T01:00:00+00:00",
        "decision": "approved", "deemed_accepted": False, "on_time": True, "working_days": 6,
    }  # fmt: skip
    assert (rating.kind, rating.seq, rating.state_version) == ("rating", 1, 6)
    assert rating.record["score"] == 5
    assert rating.record["rated_office"] == {"code": "370285004", "name": "姜山镇"}
    assert rating.record["is_default"] is False
    assert rating.record["rated_at"] == "2030-03-14T01:00:00+00:00"
    assert (rating.record["channel"], rating.record["tiers"]) == (None, None)


def test_no_record_holds_the_resident_or_the_comment(offices: Engine) -> None:
    queue(offices, closed())
    text = json.dumps([row.record for row in rows(offices)], ensure_ascii=False)
    for secret in ("王秀英", "370285194802150024", "13805321234", "0024", "很好", "resident"):
        assert secret not in text


def test_a_rating_that_changes_is_queued_again_in_sequence(offices: Engine) -> None:
    state = closed(version=6)
    queue(offices, state)
    assert state.rating is not None
    fixed = closed(version=8, rating=replace(state.rating, fix_score=3))
    assert queue(offices, fixed) == [f"{NUMBER}:rating:2"]
    assert queue(offices, fixed) == []
    # A late recording of an earlier state never re-exports the past.
    assert queue(offices, closed(version=7, rating=replace(state.rating, appeal="pending"))) == []
    # A change that is not exported (a comment edit, a new updated_at) queues nothing.
    edited = replace(state.rating, fix_score=3, comment="x")
    assert (
        queue(offices, closed(version=9, updated_at=AT + timedelta(days=20), rating=edited)) == []
    )
    upheld = closed(version=10, rating=replace(state.rating, fix_score=3, appeal="upheld"))
    assert queue(offices, upheld) == [f"{NUMBER}:rating:3"]
    ratings = [r for r in rows(offices) if r.kind == "rating"]
    assert [(r.seq, r.record["fix_score"], r.record["appeal"]) for r in ratings] == [
        (1, None, "none"), (2, 3, "none"), (3, 3, "upheld"),
    ]  # fmt: skip
    assert len([r for r in rows(offices) if r.kind == "request"]) == 1


def test_a_bad_rating_is_queued_before_the_request_closes(engine: Engine) -> None:
    """A bad rating opens rectification: its record goes at once, the request's at the close;
    a default rating says so; offices not in the table keep their codes with empty names."""
    rated = closed(version=5, stage="rectification", status="open",
                   rating=RatingInfo(score=2, at=AT, is_default=False))  # fmt: skip
    assert queue(engine, rated) == [f"{NUMBER}:rating:1"]
    done = closed(version=7, rectified=True, rating=RatingInfo(score=2, at=AT))
    assert queue(engine, done) == [f"{NUMBER}:request:1"]
    request = rows(engine)[-1].record
    assert request["offices"]["township"] == {"code": "370285004", "name": ""}


def test_a_default_rating_and_a_request_without_a_number(engine: Engine) -> None:
    state = closed(number="", rating=RatingInfo(score=3, at=AT, is_default=True))
    assert queue(engine, state) == ["r-export:request:1", "r-export:rating:1"]
    assert rows(engine)[1].record["is_default"] is True


def test_a_request_that_is_not_closed_and_not_rated_queues_nothing(engine: Engine) -> None:
    assert queue(engine, closed(stage="result_delivery", status="open", rating=None)) == []
    refused = closed(stage="refused", rating=None, decision=None, decided_at=None)
    assert queue(engine, refused) == [f"{NUMBER}:request:1"]
    assert rows(engine)[0].record["stage"] == "refused"


def test_the_key_is_unique(engine: Engine) -> None:
    queue(engine, closed())
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            ExportRow(key=f"{NUMBER}:request:1", request_id="other", number="other",
                      kind="request", seq=1, state_version=1, record={})
        )  # fmt: skip
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            ExportRow(key="another", request_id="r-export", number=NUMBER,
                      kind="rating", seq=1, state_version=9, record={})
        )  # fmt: skip
    with session_scope(engine) as session:
        assert export_counts(session) == {"pending": 2, "sent": 0, "failed": 0}


def test_export_status_and_retry_on_the_command_line(engine: Engine, runner: CliRunner) -> None:
    queue(engine, closed())
    with session_scope(engine) as session:
        session.exec(
            update(ExportRow)
            .where(col(ExportRow.kind) == "rating")
            .values(status="failed", attempts=50, last_error="HTTPStatusError: 503")
        )
    url = engine.url.render_as_string(hide_password=False)
    status = runner.invoke(app, ["export", "status", "--url", url])
    assert status.exit_code == 0, status.stderr
    assert "pending 1 sent 0 failed 1" in status.stdout
    retry = runner.invoke(app, ["export", "retry", "--url", url])
    assert retry.exit_code == 0, retry.stderr
    assert "1 failed records queued again" in retry.stdout
    assert [(r.status, r.attempts, r.last_error) for r in rows(engine)] == [
        ("pending", 0, None),
        ("pending", 0, None),
    ]


def recorded_before_the_export(engine: Engine, *states: RequestState) -> None:
    """Read-model rows as a release without the export recorded them (no export records)."""
    source, sealer = CalendarSource(engine), Sealer.from_settings(Settings())
    with session_scope(engine) as session:
        for state in states:
            upsert_request(session, project(state, source, sealer), source.tz)


def test_backfill_queues_what_ended_or_was_rated_before_the_export(
    engine: Engine, runner: CliRunner
) -> None:
    rectifying = closed(
        version=5,
        id="r-bad",
        number="370285-20300304-0043",
        stage="rectification",
        status="open",
        rating=RatingInfo(score=1, at=AT),
    )
    running = closed(version=3, id="r-open", number="370285-20300304-0044",
                     stage="township_review", status="open", rating=None)  # fmt: skip
    recorded_before_the_export(engine, closed(), rectifying, running)
    with session_scope(engine) as session:
        assert backfill(session) == (3, None)
    with session_scope(engine) as session:
        assert backfill(session) == (0, None)  # run again: nothing more
    assert sorted(r.key for r in rows(engine)) == [
        f"{NUMBER}:rating:1", f"{NUMBER}:request:1", "370285-20300304-0043:rating:1",
    ]  # fmt: skip
    text = json.dumps([row.record for row in rows(engine)], ensure_ascii=False)
    assert "resident" not in text and "0024" not in text and "王" not in text
    url = engine.url.render_as_string(hide_password=False)
    again = runner.invoke(app, ["export", "backfill", "--url", url])
    assert again.exit_code == 0 and "0 records queued" in again.stdout, again.stderr


def test_resend_queues_a_requests_records_again(engine: Engine, runner: CliRunner) -> None:
    queue(engine, closed())
    with session_scope(engine) as session:
        session.exec(update(ExportRow).values(status="sent", attempts=1))
    url = engine.url.render_as_string(hide_password=False)
    resent = runner.invoke(app, ["export", "resend", NUMBER, "--url", url])
    assert resent.exit_code == 0, resent.stderr
    assert f"2 records of {NUMBER} queued again" in resent.stdout
    assert {(r.status, r.attempts) for r in rows(engine)} == {("pending", 0)}
    unknown = runner.invoke(app, ["export", "resend", "370285-20300304-9999", "--url", url])
    assert unknown.exit_code == 5
    assert "no records of request 370285-20300304-9999" in unknown.stderr
