"""Notifications leave through the courier and the webhook gateway; a gateway that is down loses
nothing, a gateway that hangs holds nothing up and receives nothing twice."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from activities.notify import Courier, WebhookGateway
from daiban.core.sealed import Sealer
from daiban.store.db import make_engine, session_scope, upgrade
from daiban.store.rating_proofs import queue_resident_text, seal_text
from models.contracts import RESIDENT_RECIPIENT
from models.db import OutboxRow


class FakeSmsGateway(ThreadingHTTPServer):
    """An SMS gateway stand-in (outside the system): records posts, can be told to fail."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.failing = False
        self.hanging = False  # accept the post, never answer
        self.hung: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sms"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSmsGateway

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.hanging:
            self.server.hung.append(self.headers["Idempotency-Key"])
            time.sleep(3)
            return
        if self.server.failing:
            self.send_response(503)
        else:
            self.server.received.append(json.loads(body))
            self.server.keys.append(self.headers["Idempotency-Key"])
            self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sms() -> Iterator[FakeSmsGateway]:
    server = FakeSmsGateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def queue(engine: Engine, n: int) -> None:
    with session_scope(engine) as session:
        for i in range(n):
            session.add(
                OutboxRow(
                    request_id="r1", event_key=f"r1:1:n{i}", recipient_office="370285004",
                    recipient_role="staff", level="red", message=f"红牌 {i}",
                )
            )  # fmt: skip


def statuses(engine: Engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        return [(r.status, r.attempts) for r in session.exec(select(OutboxRow))]


def test_webhook_delivers_each_notification_once(engine: Engine, sms: FakeSmsGateway) -> None:
    queue(engine, 2)
    courier = Courier(engine, WebhookGateway(sms.url))
    assert courier.deliver_round() == 2
    assert courier.deliver_round() == 0  # a second round finds nothing pending
    assert Courier(engine, WebhookGateway(sms.url)).deliver_round() == 0  # nor another worker's
    assert [m["message"] for m in sms.received] == ["红牌 0", "红牌 1"]
    assert len(set(sms.keys)) == 2
    assert statuses(engine) == [("sent", 1), ("sent", 1)]


def test_a_text_to_the_resident_is_opened_only_for_its_send(
    engine: Engine, sms: FakeSmsGateway
) -> None:
    """The phone and the text (a rating link, a confirmation code) stay sealed in the outbox; the
    courier opens them for the gateway, which gets the phone to text. Without the codec keys the
    row cannot be opened and stays pending, never posted half-empty."""
    sealer = Sealer.from_spec(f"k1:{base64.b64encode(bytes(32)).decode()}")
    text = "【莱西便民代办】“临时救助”评价确认码381906，10分钟内有效。"
    with session_scope(engine) as session:
        queue_resident_text(
            session, request_id="r1", village="370285004001", event_key="r1:code:1",
            sealed=seal_text(sealer, "r1", "13805321234", text), kind="rating_code",
        )  # fmt: skip
    with Session(engine) as session:
        (row,) = session.exec(select(OutboxRow)).all()
    assert "381906" not in json.dumps(row.model_dump(mode="json"), ensure_ascii=False)
    assert Courier(engine, WebhookGateway(sms.url)).deliver_round() == 0
    assert statuses(engine) == [("pending", 1)] and sms.received == []
    assert Courier(engine, WebhookGateway(sms.url), sealer=sealer, interval=0).deliver_round() == 1
    (posted,) = sms.received
    assert (posted["phone"], posted["message"]) == ("13805321234", text)
    assert posted["recipient_role"] == RESIDENT_RECIPIENT


def test_a_gateway_outage_keeps_rows_pending_until_a_later_round(
    engine: Engine, sms: FakeSmsGateway
) -> None:
    queue(engine, 1)
    courier = Courier(engine, WebhookGateway(sms.url), interval=0)
    sms.failing = True
    assert courier.deliver_round() == 0
    assert statuses(engine) == [("pending", 1)]
    sms.failing = False
    assert courier.deliver_round() == 1
    assert statuses(engine) == [("sent", 2)]
    assert len(sms.received) == 1


def test_rows_failing_too_often_are_marked_failed(engine: Engine, sms: FakeSmsGateway) -> None:
    queue(engine, 1)
    sms.failing = True
    courier = Courier(engine, WebhookGateway(sms.url), interval=0, max_attempts=2)
    courier.deliver_round()
    courier.deliver_round()
    assert statuses(engine) == [("failed", 2)]


def test_rows_waiting_for_a_later_try_do_not_hide_newer_ones(
    engine: Engine, sms: FakeSmsGateway
) -> None:
    """More failed rows than a batch, each waiting for its next try: a row queued after them is
    still sent at the next round, not once they are all marked failed."""
    queue(engine, 12)
    courier = Courier(engine, WebhookGateway(sms.url), interval=3600, batch=5)
    sms.failing = True
    assert courier.deliver_round() == 0
    assert statuses(engine) == [("pending", 1)] * 12
    sms.failing = False
    with session_scope(engine) as session:
        session.add(
            OutboxRow(
                request_id="r2", event_key="r2:1:n0", recipient_office="370285004",
                recipient_role="staff", level="red", message="新的红牌",
            )
        )  # fmt: skip
    assert courier.deliver_round() == 1
    assert [m["message"] for m in sms.received] == ["新的红牌"]
    assert statuses(engine) == [("pending", 1)] * 12 + [("sent", 1)]


def test_a_hanging_gateway_is_tried_once_per_interval_within_the_budget(
    engine: Engine, sms: FakeSmsGateway
) -> None:
    """A gateway that accepts and never answers: a round stops at its budget, and the rows it
    tried are not sent again by the rounds that recordings trigger meanwhile."""
    queue(engine, 10)
    sms.hanging = True
    courier = Courier(engine, WebhookGateway(sms.url, timeout=0.5), interval=60, budget=1.2)
    started = time.monotonic()
    assert courier.deliver_round() == 0
    assert time.monotonic() - started < 3.5  # the budget, not 10 × the timeout
    assert 1 <= len(sms.hung) < 10
    courier.deliver_round()  # poked again at once: the tried rows wait, the others go
    assert sorted(sms.hung) == sorted(set(sms.hung))  # no row sent twice
    assert [a for _, a in statuses(engine)].count(0) == 10 - len(sms.hung)


def test_a_row_another_worker_just_tried_waits_three_intervals_here(
    engine: Engine, sms: FakeSmsGateway
) -> None:
    """Worker 1's send failed (or timed out: the gateway may have it). Worker 2's courier, poked
    at once by a recording, does not post it again before three intervals have passed (worker 1
    marks what it sent within one, even when an outage delayed the mark)."""
    queue(engine, 1)
    sms.failing = True
    assert Courier(engine, WebhookGateway(sms.url), interval=60).deliver_round() == 0
    sms.failing = False
    other = Courier(engine, WebhookGateway(sms.url), interval=0.5)
    assert other.deliver_round() == 0
    assert sms.received == []
    time.sleep(0.6)
    assert other.deliver_round() == 0  # one interval is not enough for another's row
    time.sleep(1.0)
    assert other.deliver_round() == 1  # three intervals without anyone trying it: its turn
    assert statuses(engine) == [("sent", 2)]


def test_a_stopped_courier_claims_nothing(engine: Engine, sms: FakeSmsGateway) -> None:
    queue(engine, 2)
    courier = Courier(engine, WebhookGateway(sms.url))
    courier.stop()  # its worker is stopping; a round already started ends here
    assert courier.deliver_round() == 0
    assert statuses(engine) == [("pending", 0), ("pending", 0)]
    assert sms.received == []


class BlockingGateway:
    """A gateway (outside the system) whose first send waits until released."""

    def __init__(self) -> None:
        self.inside, self.release = threading.Event(), threading.Event()
        self.sent: list[int | None] = []

    def send(self, row: OutboxRow) -> None:
        self.inside.set()
        self.release.wait(10)
        self.sent.append(row.id)


async def test_a_courier_stopped_mid_send_settles_that_send_and_claims_no_more(
    engine: Engine,
) -> None:
    queue(engine, 3)
    gateway = BlockingGateway()
    courier = Courier(engine, gateway, interval=0.01)
    running = asyncio.create_task(courier.run())
    await asyncio.to_thread(gateway.inside.wait, 10)
    running.cancel()  # the worker shuts down while the first row is being posted
    await asyncio.sleep(0.1)
    gateway.release.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    # Marked sent before the courier let its worker go (else the next worker posts it again);
    # nothing claimed after the stop.
    assert sorted(statuses(engine)) == [("pending", 0), ("pending", 0), ("sent", 1)]
    assert len(gateway.sent) == 1


class DatabaseGoesAwayGateway:
    """Accepts a post; the database goes away meanwhile, for real: its folder is moved aside and
    a plain file put in its place, so nothing can open it until it is moved back."""

    def __init__(self, engine: Engine, folder: Path, sms: FakeSmsGateway) -> None:
        self._engine, self._webhook = engine, WebhookGateway(sms.url)
        self._folder, self._away = folder, folder.with_name("away")

    def send(self, row: OutboxRow) -> None:
        self._webhook.send(row)
        self._folder.rename(self._away)
        self._folder.write_text("")
        self._engine.dispose()

    def back(self) -> None:
        self._folder.unlink()
        self._away.rename(self._folder)


def test_a_send_whose_mark_is_lost_to_an_outage_is_marked_when_it_is_back_not_sent_again(
    tmp_path: Path, sms: FakeSmsGateway
) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'a.db'}"
    upgrade(url)
    engine = make_engine(url)
    queue(engine, 1)
    gateway = DatabaseGoesAwayGateway(engine, folder, sms)
    courier = Courier(engine, gateway, interval=0)
    with pytest.raises(OperationalError):
        courier.deliver_round()  # posted; then the "sent" mark could not be written
    gateway.back()
    assert courier.deliver_round() == 0  # marked first thing, not posted again
    assert statuses(engine) == [("sent", 1)]
    assert len(sms.received) == 1
