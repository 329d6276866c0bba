"""Notification delivery through a pluggable gateway (default: the log).

The outbox row is written in the same transaction as the ledger row that caused it; delivery comes
after the commit and marks the row sent, so a retried activity never sends twice what was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from daiban.core.logs import get_logger
from daiban.store.db import session_scope
from models.db import OutboxRow, utc_now

log = get_logger("daiban.notify")


class NotificationGateway(Protocol):
    def send(self, row: OutboxRow) -> None: ...


class LogGateway:
    """Writes each notification as a log line; an SMS or messaging gateway replaces it.

    Ids and levels only: a message may quote a staff note (a refusal's reason), which may name
    people; the text stays in the outbox, whose readers are the database's."""

    def send(self, row: OutboxRow) -> None:
        log.info(
            "notification",
            outbox_id=row.id,
            request_id=row.request_id,
            recipient_office=row.recipient_office,
            recipient_role=row.recipient_role,
            level=row.level,
        )


class WebhookGateway:
    """POSTs each notification as JSON to the county's messaging gateway (SMS, work chat).

    A non-2xx answer or a network error raises, so the row stays pending and is retried.
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._url = url
        self._client = httpx.Client(timeout=timeout)

    def send(self, row: OutboxRow) -> None:
        response = self._client.post(
            self._url,
            json={
                "id": row.id,
                "request_id": row.request_id,
                "recipient_office": row.recipient_office,
                "recipient_role": row.recipient_role,
                "level": row.level,
                "message": row.message,
            },
            headers={
                "Idempotency-Key": f"{row.event_key}/{row.recipient_office}/{row.recipient_role}"
            },
        )
        response.raise_for_status()


def gateway_for(webhook_url: str | None) -> NotificationGateway:
    return WebhookGateway(webhook_url) if webhook_url else LogGateway()


def deliver_pending(session: Session, gateway: NotificationGateway, request_id: str) -> int:
    """Send the request's pending notifications; a failing send stays pending for a later try."""
    rows = session.exec(
        select(OutboxRow)
        .where(OutboxRow.request_id == request_id, OutboxRow.status == "pending")
        .order_by(col(OutboxRow.id))
    ).all()
    return _send(session, gateway, rows)


def relay_pending(
    engine: Engine, gateway: NotificationGateway, *, limit: int = 200, max_attempts: int = 20
) -> int:
    """Retry the notifications whose first delivery failed (the gateway was down); rows that
    failed ``max_attempts`` times are marked failed for an operator to look at."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.attempts > 0)
            .order_by(col(OutboxRow.id))
            .limit(limit)
        ).all()
        sent = _send(session, gateway, rows)
        for row in rows:
            if row.status == "pending" and row.attempts >= max_attempts:
                row.status = "failed"
                session.add(row)
        return sent


def _send(session: Session, gateway: NotificationGateway, rows: Sequence[OutboxRow]) -> int:
    sent = 0
    for row in rows:
        row.attempts += 1
        try:
            gateway.send(row)
        except Exception as error:  # any gateway failure: keep it pending, record why
            row.last_error = f"{type(error).__name__}: {error}"[:500]
        else:
            row.status, row.sent_at, row.last_error = "sent", utc_now(), None
            sent += 1
        session.add(row)
    return sent
