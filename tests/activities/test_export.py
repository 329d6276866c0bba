"""Records leave for the province's rating system through the exporter: a retried recording
queues nothing twice, and a record sent again (the worker died before marking it, the webhook
failed or timed out) is one record downstream, in the file and at the webhook's receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from activities.calendar_source import CalendarSource
from activities.export import Exporter, JsonLinesFile, Webhook, adapter_for
from activities.records import RecordActivities
from daiban.core.sealed import Sealer
from daiban.core.settings import Settings
from models.contracts import RatingInfo, RequestState, Resident, TransitionRecord
from models.db import ExportRow
from tests.activities.export_crash import CRASHED

AT = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)
SEALER = Sealer.from_settings(Settings())
REPO = Path(__file__).resolve().parents[2]


def rated(number: str = "370285-20300304-0001", version: int = 6) -> TransitionRecord:
    state = RequestState(
        id=f"r-{number[-4:]}", item="linshi-jiuzhu", item_name="临时救助",
        deciding_tier="township", village="370285004001", township="370285004",
        city="370285000", stage="completed", status="closed",
        responsible_office="370285004001", handling_office="370285004",
        resident=Resident("王秀英", "370285194802150024", "13805321234"), agent="agent-1",
        channel="agent", created_at=AT, updated_at=AT + timedelta(days=9),
        decided_at=AT + timedelta(days=7), decision="approved", on_time=True,
        number=number, version=version, rating=RatingInfo(score=4, at=AT + timedelta(days=9)),
    )  # fmt: skip
    return TransitionRecord(state=state)


def unrated(number: str = "370285-20300304-0001") -> TransitionRecord:
    """A request refused at the window: closed, never rated (one record, the request's)."""
    record = rated(number)
    state = replace(record.state, stage="refused", decision=None, decided_at=None, rating=None)
    return replace(record, state=state)


def record(engine: Engine, *transitions: TransitionRecord) -> None:
    """Record the transitions as the worker does, one transaction each."""
    records = RecordActivities(engine, CalendarSource(engine), SEALER)
    try:
        for transition in transitions:
            records.write(transition)
    finally:
        records.close()


def exports(engine: Engine) -> list[ExportRow]:
    with Session(engine) as session:
        return list(session.exec(select(ExportRow).order_by(col(ExportRow.id))))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_a_retried_recording_queues_each_record_once(engine: Engine) -> None:
    first = rated()
    later = replace(first, state=replace(first.state, version=7))  # a transition that changes
    # nothing exported; the first recorded twice (Temporal retried it: its answer was lost).
    record(engine, first, first, later)
    assert [(r.kind, r.seq, r.state_version) for r in exports(engine)] == [
        ("request", 1, 6),
        ("rating", 1, 6),
    ]


def test_the_file_holds_one_line_per_key_after_a_crash_between_write_and_mark(
    engine: Engine, tmp_path: Path
) -> None:
    record(engine, rated("370285-20300304-0001"))
    path = tmp_path / "export" / "ratings.jsonl"
    url = engine.url.render_as_string(hide_password=False)
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.activities.export_crash", url, str(path)],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert crashed.returncode == CRASHED, crashed.stderr.decode()
    # The first record is in the file, its row still pending (claimed once, never marked).
    assert [r["key"] for r in lines(path)] == ["370285-20300304-0001:request:1"]
    assert [(r.status, r.attempts) for r in exports(engine)] == [("pending", 1), ("pending", 0)]
    # And a crash mid-append elsewhere left half a line behind.
    with path.open("ab") as file:
        file.write(b'{"key": "370285-20300304-0001:rating:1", "sco')

    exporter = Exporter(engine, JsonLinesFile(path), interval=0)  # the next worker
    assert exporter.deliver_round() == 2
    assert exporter.deliver_round() == 0
    written = lines(path)  # every line whole JSON
    assert [r["key"] for r in written] == [
        "370285-20300304-0001:request:1",
        "370285-20300304-0001:rating:1",
    ]
    assert written[1]["score"] == 4
    assert [(r.status, r.attempts) for r in exports(engine)] == [("sent", 2), ("sent", 1)]


def test_the_file_is_appended_once_per_key_across_writers(tmp_path: Path) -> None:
    """Two workers of one host append to one file: neither writes a key the other wrote."""
    path = tmp_path / "ratings.jsonl"
    first, second = JsonLinesFile(path), JsonLinesFile(path)
    first.send("a:request:1", {"key": "a:request:1"})
    second.send("a:request:1", {"key": "a:request:1"})
    second.send("a:rating:1", {"key": "a:rating:1"})
    first.send("a:rating:1", {"key": "a:rating:1"})
    first.send("a:request:1", {"key": "a:request:1"})
    assert [r["key"] for r in lines(path)] == ["a:request:1", "a:rating:1"]
    # A line someone else wrote into the file is passed over, not a reason to stop exporting.
    with path.open("ab") as file:
        file.write(b"# uploaded up to here\n")
    second.send("b:request:1", {"key": "b:request:1"})
    first.send("b:request:1", {"key": "b:request:1"})
    assert path.read_bytes().count(b"b:request:1") == 1
    # The uploader moved the file away: the next record starts a new one.
    path.rename(tmp_path / "uploaded.jsonl")
    first.send("c:request:1", {"key": "c:request:1"})
    assert [r["key"] for r in lines(path)] == ["c:request:1"]


class ProvinceReceiver(ThreadingHTTPServer):
    """The province's rating system (outside ours): keeps one record per ``Idempotency-Key``, as a
    real receiver would, checks the signature, and can be told to fail or to answer late."""

    def __init__(self, secret: str) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.secret = secret
        self.posts: list[str] = []
        self.records: dict[str, dict[str, Any]] = {}
        self.answers: list[str] = []  # what to do with the next posts: "500", "late"; then 200
        self.bad_signatures = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/records"


class _Receive(BaseHTTPRequestHandler):
    server: ProvinceReceiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        expected = hmac.new(self.server.secret.encode(), body, hashlib.sha256).hexdigest()
        if self.headers["X-Daiban-Signature"] != f"sha256={expected}":
            self.server.bad_signatures += 1
            self.send_response(401)
            self.end_headers()
            return
        self.server.posts.append(key)
        answer = self.server.answers.pop(0) if self.server.answers else "200"
        if answer == "500":
            self.send_response(500)
            self.end_headers()
            return
        self.server.records.setdefault(key, json.loads(body))  # dedupe by the key
        if answer == "late":
            time.sleep(1.5)  # kept it, but answers after the sender gave up
            return
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def province() -> Iterator[ProvinceReceiver]:
    server = ProvinceReceiver(secret="shared-with-the-province")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_the_webhook_retries_after_a_500_and_a_timeout_and_is_one_record_downstream(
    engine: Engine, province: ProvinceReceiver
) -> None:
    record(engine, unrated())
    province.answers = ["500", "late"]
    webhook = Webhook(province.url, secret=province.secret, timeout=0.5)
    exporter = Exporter(engine, webhook, interval=0)
    assert exporter.deliver_round() == 0  # 500
    assert exporter.deliver_round() == 0  # kept downstream, but the answer came too late
    assert exporter.deliver_round() == 1  # sent again: the receiver has it already
    assert exporter.deliver_round() == 0
    key = "370285-20300304-0001:request:1"
    assert province.posts == [key, key, key]
    assert list(province.records) == [key]
    assert province.records[key]["stage"] == "refused"
    assert province.bad_signatures == 0
    assert [(r.status, r.attempts) for r in exports(engine)] == [("sent", 3)]
    webhook.close()


def test_a_wrong_secret_is_refused_and_the_record_stays_pending(
    engine: Engine, province: ProvinceReceiver
) -> None:
    record(engine, rated())
    exporter = Exporter(engine, Webhook(province.url, secret="not-the-one"), interval=0)
    assert exporter.deliver_round() == 0
    assert province.bad_signatures == 2 and province.records == {}
    assert [r.status for r in exports(engine)] == ["pending", "pending"]


def test_a_failing_record_backs_off_and_is_marked_failed_at_the_last_attempt(
    engine: Engine, province: ProvinceReceiver
) -> None:
    record(engine, unrated())
    province.answers = ["500"] * 3
    webhook = Webhook(province.url, secret=province.secret)
    exporter = Exporter(engine, webhook, interval=0.3, backoff_max=10, max_attempts=3)
    assert [exporter.backoff(n) for n in (1, 2, 3, 6)] == [1, 2, 4, 32]
    assert exporter.backoff(7) * 0.3 == pytest.approx(10)  # capped at backoff_max seconds
    exporter.deliver_round()
    time.sleep(0.35)
    exporter.deliver_round()  # one interval after the first failure
    assert len(province.posts) == 2
    time.sleep(0.35)
    exporter.deliver_round()  # the second failure waits two intervals: not yet
    assert len(province.posts) == 2
    time.sleep(0.35)
    exporter.deliver_round()
    assert len(province.posts) == 3
    assert [(r.status, r.attempts) for r in exports(engine)] == [("failed", 3)]


def test_the_adapter_is_chosen_by_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert isinstance(adapter_for(Settings(export="file", export_file=path)), JsonLinesFile)
    hook = adapter_for(Settings(export="webhook", export_webhook_url="http://127.0.0.1:9/x"))
    assert isinstance(hook, Webhook)
    assert adapter_for(Settings(export="off")) is None
    with pytest.raises(ValueError, match="DAIBAN_EXPORT_WEBHOOK_URL"):
        Settings(export="webhook")
