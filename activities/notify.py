"""Notification delivery through a pluggable gateway (default: the log).

The outbox row is written in the same transaction as the ledger row that caused it; delivery comes
after the commit and marks the row sent, so a retried activity never sends twice what was sent.
"""

from __future__ import annotations

from typing import Protocol

from sqlmodel import Session, col, select

from daiban.logs import get_logger
from models.db import OutboxRow, utc_now

log = get_logger("daiban.notify")


class NotificationGateway(Protocol):
    def send(self, row: OutboxRow) -> None: ...


class LogGateway:
    """Writes each notification as a log line; an SMS or messaging gateway replaces it."""

    def send(self, row: OutboxRow) -> None:
        log.info(
            "notification",
            request_id=row.request_id,
            recipient_office=row.recipient_office,
            recipient_role=row.recipient_role,
            level=row.level,
            message=row.message,
        )


def deliver_pending(session: Session, gateway: NotificationGateway, request_id: str) -> int:
    """Send the request's pending notifications; a failing send stays pending for a later try."""
    rows = session.exec(
        select(OutboxRow)
        .where(OutboxRow.request_id == request_id, OutboxRow.status == "pending")
        .order_by(col(OutboxRow.id))
    ).all()
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
