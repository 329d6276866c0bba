"""Notifications leave through the webhook gateway; a gateway that is down loses nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from activities.notify import WebhookGateway, deliver_pending, relay_pending
from daiban.store.db import session_scope
from models.db import OutboxRow


class FakeSmsGateway(ThreadingHTTPServer):
    """An SMS gateway stand-in (outside the system): records posts, can be told to fail."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.failing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sms"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSmsGateway

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
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
    gateway = WebhookGateway(sms.url)
    with session_scope(engine) as session:
        assert deliver_pending(session, gateway, "r1") == 2
    with session_scope(engine) as session:  # a retried activity finds nothing pending
        assert deliver_pending(session, gateway, "r1") == 0
    assert [m["message"] for m in sms.received] == ["红牌 0", "红牌 1"]
    assert len(set(sms.keys)) == 2
    assert statuses(engine) == [("sent", 1), ("sent", 1)]


def test_a_gateway_outage_keeps_rows_pending_until_the_relay(
    engine: Engine, sms: FakeSmsGateway
) -> None:
    queue(engine, 1)
    gateway = WebhookGateway(sms.url)
    sms.failing = True
    with session_scope(engine) as session:
        assert deliver_pending(session, gateway, "r1") == 0
    assert statuses(engine) == [("pending", 1)]
    assert relay_pending(engine, gateway) == 0
    sms.failing = False
    assert relay_pending(engine, gateway) == 1
    assert statuses(engine) == [("sent", 3)]
    assert len(sms.received) == 1


def test_rows_failing_too_often_are_marked_failed(engine: Engine, sms: FakeSmsGateway) -> None:
    queue(engine, 1)
    sms.failing = True
    gateway = WebhookGateway(sms.url)
    with session_scope(engine) as session:
        deliver_pending(session, gateway, "r1")
    relay_pending(engine, gateway, max_attempts=2)
    assert statuses(engine) == [("failed", 2)]
