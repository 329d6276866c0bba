"""Notification delivery through a pluggable gateway (default: the log).

The outbox row is written in the same transaction as the ledger row that caused it; the courier
delivers it after the commit, outside the recording, and marks it sent, so neither a retried
recording nor a second worker sends again what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx
from sqlalchemy import Engine, case
from sqlmodel import Session, col, select, update

from daiban.core.logs import get_logger
from daiban.core.sealed import Sealer
from daiban.store.db import session_scope
from daiban.store.rating_proofs import outbox_context
from models.db import ExportRow, OutboxRow, utc_now

log = get_logger("daiban.notify")

# The outboxes a relay delivers: rows with an id, a status (pending, sent, failed), an attempt
# count, the last error and when they were sent.
Row = TypeVar("Row", OutboxRow, ExportRow)


class NotificationGateway(Protocol):
    def send(self, row: OutboxRow) -> None: ...


def recipient_phone(row: OutboxRow) -> str | None:
    """The resident's phone of an opened row (``Courier`` opens a sealed row just before its send,
    in memory: ``sealed`` then holds the phone in the clear); None for a text to an office."""
    return row.sealed.get("phone") if row.sealed else None


def open_row(row: OutboxRow, sealer: Sealer | None) -> OutboxRow:
    """A text to the resident, opened for its send; any other row as it is."""
    if row.sealed is None:
        return row
    if sealer is None:
        raise RuntimeError("a text to a resident cannot be opened without the codec keys")
    opened = sealer.open(row.sealed, outbox_context(row.request_id))
    return row.model_copy(update={"message": opened["text"], "sealed": {"phone": opened["phone"]}})


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
                # A text to the resident's own phone (a rating link, a confirmation code).
                "phone": recipient_phone(row),
            },
            headers={
                "Idempotency-Key": f"{row.event_key}/{row.recipient_office}/{row.recipient_role}"
            },
        )
        response.raise_for_status()


def gateway_for(webhook_url: str | None) -> NotificationGateway:
    return WebhookGateway(webhook_url) if webhook_url else LogGateway()


class Relay(ABC, Generic[Row]):
    """Delivers an outbox, apart from the recording of transitions (the courier its
    notifications, the exporter its records for the province).

    Recording only queues rows (in the transition's own database transaction); the relay sends
    them when a recording pokes it and every ``interval`` seconds, so a gateway that hangs holds
    no transition, no lock and no activity slot. One round sends what fits in ``budget`` seconds
    and leaves the rest for the next. Each row is claimed before its send (its attempt count moves
    on in a committed compare-and-set), so couriers of several workers never send one row at
    the same time, and an abandoned round never sends again what another has sent. A row that was
    tried already (by this courier or another's) is tried again only once its attempt count has
    stood still for an interval here: a send another worker has in flight, to a gateway that
    hangs, is not doubled by this one. A stopped courier's round claims nothing more.
    """

    table: ClassVar[type[OutboxRow] | type[ExportRow]]
    what: ClassVar[str]  # what is delivered, for the log

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = 30.0,
        budget: float = 10.0,
        batch: int = 200,
        max_attempts: int = 20,
        others_wait: float = 3.0,
    ) -> None:
        self._engine = engine
        self._interval, self._budget = interval, budget
        self._batch, self._max_attempts = batch, max_attempts
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        # Each pending row's attempt count as last seen here, and since when: a row is tried
        # again once its count stood still for an interval, however often recordings poke.
        self._seen: dict[int, tuple[int, float]] = {}
        # A row last tried elsewhere (or before this courier started) waits this many intervals:
        # the courier that tried it marks its outcome within one of its rounds, also when an
        # outage delayed the mark, so it is not posted again behind that courier's back.
        self._others_wait = others_wait
        # Outcomes of sends this courier could not mark (row id → error, None: sent).
        self._unsettled: dict[int, str | None] = {}
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Claim nothing more (thread-safe): a round still running ends at its next row."""
        self._stopping.set()

    def poke(self) -> None:
        """Deliver soon (thread-safe: the recording runs in a worker thread)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the loop closed: the worker is stopping
            pass

    async def run(self) -> None:
        """Deliver until cancelled (the worker stops)."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._interval)
                except TimeoutError:
                    pass
                self._wake.clear()
                if self._stopping.is_set():
                    return
                await self._round()
        finally:
            # The round's thread outlives a cancel: it must not go on sending for a stopped worker.
            self.stop()

    async def _round(self) -> None:
        round_ = asyncio.ensure_future(asyncio.to_thread(self.deliver_round))
        try:
            await asyncio.shield(round_)
        except asyncio.CancelledError:
            # Stopped mid-round: the row being sent is settled before the worker goes (a send
            # whose "sent" mark is lost would be posted again by the next courier).
            self.stop()
            with contextlib.suppress(Exception):
                await round_
            raise
        except Exception as error:  # the database may be away; the next round retries
            log.warning(f"{self.what} delivery failed", error=str(error))

    def deliver_round(self) -> int:
        """Send pending rows, oldest first, within the budget (blocking); the number sent.

        The pending rows are listed a batch at a time, each batch after the last row listed, so
        rows waiting for a later try (a record the receiver keeps refusing, for hours of
        backoff) never hide the newer rows behind them, however many they are."""
        until = time.monotonic() + self._budget
        self._settle_unsettled()
        listed: set[int] = set()
        after, sent = 0, 0
        while True:
            pending = self._pending_after(after)
            listed.update(row_id for row_id, _ in pending)
            for row_id, attempts in pending:
                now = time.monotonic()
                if now >= until or self._stopping.is_set():
                    return sent
                if self._deliver(row_id, attempts, now):
                    sent += 1
            if len(pending) < self._batch:  # every pending row is listed: forget the others
                self._seen = {k: v for k, v in self._seen.items() if k in listed}
                return sent
            after = pending[-1][0]

    def _pending_after(self, after: int) -> list[tuple[int, int]]:
        """The ids and attempt counts of the next ``batch`` pending rows after ``after``."""
        table = self.table
        with Session(self._engine) as session:
            rows = session.exec(
                select(col(table.id), col(table.attempts))
                .where(col(table.status) == "pending", col(table.id) > after)
                .order_by(col(table.id))
                .limit(self._batch)
            ).all()
        return [(row_id, attempts) for row_id, attempts in rows if row_id is not None]

    def _deliver(self, row_id: int, attempts: int, now: float) -> bool:
        """Claim and send one row when it is due here; whether it was sent."""
        if not self._due(row_id, attempts, now):
            return False
        row = self._claim(row_id, attempts)
        if row is None:
            return False  # another courier has it
        # Tried here: due again after its backoff (its own relay knows its outcome).
        wait = self._others_wait - self.backoff(attempts + 1)
        self._seen[row_id] = (attempts + 1, now - self._interval * wait)
        try:
            self.send(row)
        except Exception as error:  # any gateway failure: keep it pending, record why
            self._settle_or_keep(row_id, f"{type(error).__name__}: {error}"[:500])
            return False
        self._settle_or_keep(row_id, None)
        self._seen.pop(row_id, None)
        return True

    def _settle_or_keep(self, row_id: int, error: str | None) -> None:
        """Mark the outcome of a send; when the database is away, keep it to mark first thing
        next round (a sent row left pending would be posted again when the database is back)."""
        try:
            self._settle(row_id, error=error)
        except Exception:
            self._unsettled[row_id] = error
            raise

    def _settle_unsettled(self) -> None:
        for row_id, error in list(self._unsettled.items()):
            self._settle(row_id, error=error)  # the database still away: the round stops here
            del self._unsettled[row_id]

    def _due(self, row_id: int, attempts: int, now: float) -> bool:
        """A row never tried is due at once (the claim decides who sends it); a tried one once
        its attempt count has stood still here for an interval."""
        if row_id in self._unsettled:
            return False
        if attempts == 0:
            return True
        seen = self._seen.get(row_id)
        if seen is None or seen[0] != attempts:
            self._seen[row_id] = (attempts, now)
            return self._interval <= 0
        return now - seen[1] >= self._interval * self._others_wait

    @abstractmethod
    def send(self, row: Row) -> None:
        """Deliver one row; raise to keep it pending."""

    def backoff(self, attempts: int) -> float:
        """How many intervals a row that failed here waits before its next try: one."""
        return 1.0

    def _claim(self, row_id: int, attempts: int) -> Row | None:
        """Move the row's attempt count on if it still stands at ``attempts`` (a committed
        compare-and-set), and read it back in the same statement; None when another courier
        moved it first or it is no longer pending."""
        table = self.table
        with session_scope(self._engine) as session:
            claimed = session.exec(
                update(table)
                .where(
                    col(table.id) == row_id,
                    col(table.status) == "pending",
                    col(table.attempts) == attempts,
                )
                .values(attempts=attempts + 1)
                .returning(table)
            ).first()
            row: Row | None = None if claimed is None else claimed[0]
            if row is not None:
                session.expunge(row)
            return row

    def _settle(self, row_id: int, *, error: str | None = None) -> None:
        """Mark a send's outcome in one statement: sent, or its error (and failed once it has
        had its attempts)."""
        table = self.table
        values: dict[str, Any] = {"status": "sent", "sent_at": utc_now(), "last_error": None}
        if error is not None:
            tried_out = col(table.attempts) >= self._max_attempts
            status = case((tried_out, "failed"), else_=col(table.status))
            values = {"last_error": error, "status": status}
        with session_scope(self._engine) as session:
            session.exec(update(table).where(col(table.id) == row_id).values(**values))


class Courier(Relay[OutboxRow]):
    """Delivers the notification outbox through a gateway (SMS or messaging, or the log)."""

    table = OutboxRow
    what = "notification"

    def __init__(
        self,
        engine: Engine,
        gateway: NotificationGateway,
        sealer: Sealer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(engine, **kwargs)
        self._gateway = gateway
        self._sealer = sealer  # opens the texts to residents, sealed in the outbox

    def send(self, row: OutboxRow) -> None:
        self._gateway.send(open_row(row, self._sealer))
