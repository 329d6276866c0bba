"""``record_transition``: one database transaction per workflow transition.

It appends the ledger rows, projects the read-model row (which moves the per-day statistics
rollup with it), upserts the rating and queues the notifications and the records for the
province's rating system; the courier and the exporter deliver them (``activities.notify``,
``activities.export``). Every part is idempotent (event keys, versioned upsert, unique outbox
rows), so Temporal may retry it at will.

An attempt heartbeats while its transaction runs, so a worker that died or hangs mid-write is
noticed within the heartbeat timeout and the next attempt goes elsewhere; an attempt that was
given up (timed out, cancelled, its worker shutting down) rolls back instead of committing late.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta, tzinfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from activities.calendar_source import CalendarSource
from activities.notify import Courier, Relay
from daiban.core.sealed import Sealer
from daiban.core.settings import Settings, get_settings
from daiban.domain.notices import NoticeContentError
from daiban.domain.sms import county_texts, rating_link_text
from daiban.store import rating_proofs, residents
from daiban.store.db import session_scope, upsert_request
from daiban.store.exports import queue_exports
from daiban.store.ledger import append_events
from daiban.store.notices import issue_notice
from daiban.store.orders import record_orders
from models.contracts import (
    RESIDENT_RECIPIENT,
    LedgerEvent,
    Level,
    Notification,
    RecordResult,
    RequestState,
    TransitionRecord,
)
from models.db import ExportRow, Office, OutboxRow, RatingRow, RequestRow
from models.documents import to_document

log = logging.getLogger(__name__)

# How often an attempt beats when the schedule names no heartbeat timeout (a third of it when it
# does, so a beat or two may be lost on the way without the attempt being given up).
HEARTBEAT_EVERY = timedelta(seconds=1)


@dataclass(frozen=True)
class RatingLinks:
    """How the rating links sent at delivery are made: the key their codes are hashed with, the
    console's address they point to, and how long they rate (the rating window)."""

    key: str
    base_url: str
    ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> RatingLinks:
        return cls(
            key=settings.rating_link_key,
            base_url=settings.rating_link_base_url,
            ttl=timedelta(days=settings.rating_window_natural_days),
        )


class Abandoned(Exception):
    """The attempt was given up while it wrote: its transaction rolls back."""


def project(state: RequestState, source: CalendarSource, sealer: Sealer) -> RequestRow:
    """The read-model row of a state (denormalised for lists, queues and statistics); the
    resident in it masked and sealed (``daiban.store.residents``)."""
    levels = [e.level for e in state.escalations]
    working_days = None
    if state.decided_at is not None:
        start = state.accepted_at or state.created_at
        working_days = source.calendar().working_days_between(start, state.decided_at)
    rating = state.rating
    return RequestRow(
        id=state.id,
        number=state.number or None,
        item=state.item,
        village=state.village,
        township=state.township,
        city=state.city,
        stage=state.stage,
        status=state.status,
        responsible_office=state.responsible_office,
        overdue=state.overdue,
        red_flag=state.red_flag,
        deadline=state.deadline,
        deadline_provisional=state.deadline_provisional,
        expected_at=state.expected_at,
        decision=state.decision,
        rating_score=rating.score if rating else None,
        rating_default=rating.is_default if rating else False,
        rating_channel=(rating.channel or None) if rating else None,
        rectified=state.rectified,
        called_back=(
            state.rectification.reached_in_time() if state.rectification is not None else None
        ),
        appeal_upheld=rating is not None and rating.appeal == "upheld",
        on_time=state.on_time,
        working_days=working_days,
        reminder_count=levels.count(Level.REMINDER),
        yellow_count=levels.count(Level.YELLOW),
        red_count=levels.count(Level.RED) + levels.count(Level.STATUTORY),
        agent=state.agent,
        created_at=state.created_at,
        updated_at=state.updated_at,
        closed_at=state.updated_at if state.status == "closed" else None,
        version=state.version,
        state=residents.seal(to_document(state), sealer),
    )


def issue_notices(
    session: Session, record: TransitionRecord, tz: tzinfo, sealer: Sealer
) -> list[LedgerEvent]:
    """Issue the transition's written notices (numbered in this transaction; a retry gets the
    same ones back) and the ledger rows that carry their numbers and SHA-256. A notice whose
    content or office is wrong is a bug to fix, not a reason to hold the request: it is logged
    (without its content) and the transition is recorded without it."""
    events = []
    at = {e.key: e.at for e in record.events}
    for notice in record.notices:
        issued_at = at.get(notice.key.removesuffix(":notice"), record.state.updated_at)
        fields = dict(notice.fields)
        if "to_office" in fields:  # the workflow knows offices by code, a notice by name
            addressed = session.get(Office, str(fields.pop("to_office")))
            fields["to_office_name"] = addressed.name if addressed is not None else ""
        try:
            row = issue_notice(
                session,
                request_id=record.state.id,
                key=notice.key,
                office=notice.office,
                kind=notice.kind,
                issued_at=issued_at,
                content=fields,
                sealer=sealer,
                tz=tz,
            )
        except NoticeContentError as error:
            log.error(
                "notice not issued: %s (request %s, kind %s, field %s)",
                error.message,
                record.state.id,
                notice.kind,
                error.field,
            )
            continue
        events.append(
            LedgerEvent(
                key=notice.key,
                at=issued_at,
                kind="notice",
                actor="system",
                role="system",
                office=notice.office,
                action=notice.kind,
                note=f"{row.number} sha256 {row.sha256}",
            )
        )
    return events


def _save_rating(session: Session, state: RequestState) -> None:
    rating = state.rating
    if rating is None:
        return
    row = session.get(RatingRow, state.id) or RatingRow(
        request_id=state.id,
        score=rating.score,
        office=state.handling_office or state.responsible_office,
        township=state.township,
    )
    row.score, row.comment, row.is_default = rating.score, rating.comment, rating.is_default
    row.rated_at, row.fix_score, row.appeal = rating.at, rating.fix_score, rating.appeal
    row.channel, row.tiers = rating.channel or None, dict(rating.tiers) or None
    session.add(row)


def _queue(session: Session, request_id: str, notifications: list[Notification]) -> None:
    if not notifications:
        return
    keys = [n.key for n in notifications]
    existing = {
        (row.event_key, row.recipient_office, row.recipient_role)
        for row in session.exec(
            select(OutboxRow).where(
                OutboxRow.request_id == request_id, col(OutboxRow.event_key).in_(keys)
            )
        )
    }
    for n in notifications:
        if (n.key, n.recipient_office, n.recipient_role) in existing:
            continue
        if n.recipient_role == RESIDENT_RECIPIENT:
            continue  # sent with its link by ``_invite_to_rate``
        session.add(
            OutboxRow(
                request_id=request_id,
                event_key=n.key,
                recipient_office=n.recipient_office,
                recipient_role=n.recipient_role,
                level=n.level,
                message=n.message,
            )
        )


def _invite_to_rate(
    session: Session, record: TransitionRecord, links: RatingLinks, sealer: Sealer
) -> None:
    """The rating link of a delivery, to the resident's own phone: issued once (a retried
    recording finds it issued and its text queued) and queued sealed with the phone."""
    state = record.state
    for n in record.notifications:
        if n.recipient_role != RESIDENT_RECIPIENT:
            continue
        code = rating_proofs.issue_link(
            session,
            links.key,
            request_id=state.id,
            village=state.village,
            event_key=n.key,
            now=state.updated_at,
            ttl=links.ttl,
        )
        if code is None:
            continue
        text = rating_link_text(state.item_name, f"{links.base_url.rstrip('/')}/pj/{code}")
        rating_proofs.queue_resident_text(
            session,
            request_id=state.id,
            village=state.village,
            event_key=n.key,
            sealed=rating_proofs.seal_text(sealer, state.id, state.resident.phone, text),
            kind="rating_link",
        )


class RecordActivities:
    """``record_transition`` on a thread pool of its own: the local ``compute_deadlines`` runs
    on the worker's activity executor, so recordings that wait on a database that is away
    never starve the deadline computations (nor the reverse)."""

    def __init__(
        self,
        engine: Engine,
        source: CalendarSource,
        sealer: Sealer,
        courier: Courier | None = None,
        *,
        max_workers: int = 16,
        exporter: Relay[ExportRow] | None = None,
        links: RatingLinks | None = None,
    ) -> None:
        self._engine = engine
        self._links = links or RatingLinks.from_settings(get_settings())
        self._source = source
        self._sealer = sealer
        self._courier = courier
        self._exporter = exporter
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="record")

    @activity.defn(name="record_transition")
    async def record_transition(self, record: TransitionRecord) -> RecordResult:
        # Async, so that a given-up attempt is cancelled here (the heartbeat brings the news) and
        # Temporal retries it; its thread then rolls back rather than commit behind the retry.
        # It sends nothing: the courier delivers the queued notifications.
        abandoned = threading.Event()
        loop = asyncio.get_running_loop()
        write = loop.run_in_executor(self._executor, self.write, record, abandoned)
        info = activity.info()
        every = _beat_interval(info.heartbeat_timeout)
        try:
            while not write.done():
                await asyncio.wait({write}, timeout=every)
                if not write.done() and not info.is_local:  # a local attempt has no heartbeat
                    activity.heartbeat()
            result = await write
        except BaseException:
            abandoned.set()
            raise
        if record.notifications and self._courier is not None:
            self._courier.poke()
        return result

    def write(
        self, record: TransitionRecord, abandoned: threading.Event | None = None
    ) -> RecordResult:
        """The transition's one transaction: ledger rows, read-model row, supervision orders (new
        ones numbered), rating, outbox rows, export records; answers the numbers it gave. Nothing
        is committed once ``abandoned`` is set (the attempt was given up meanwhile)."""
        state = record.state
        with session_scope(self._engine) as session:
            # The action's rows, then its notice's (one append: the chain is read once).
            notices = (
                issue_notices(session, record, self._source.tz, self._sealer)
                if record.notices
                else []
            )
            append_events(session, state.id, [*record.events, *notices])
            numbers = record_orders(session, state, self._source.tz)
            # The recorded document shows the numbers the workflow learns from this answer.
            for order in state.orders:
                order.number = order.number or numbers.get(order.key)
            row = project(state, self._source, self._sealer)
            upsert_request(session, row, self._source.tz)
            _save_rating(session, state)
            # Records for the province's rating system (docs/export.md), keyed so a retry adds none.
            exported = queue_exports(session, state, row.working_days)
            # Texts as the county sends them (its templates, docs/design.md §3).
            _queue(session, state.id, county_texts(record, self._source.tz))
            _invite_to_rate(session, record, self._links, self._sealer)
            session.flush()
            if abandoned is not None and abandoned.is_set():
                raise Abandoned(f"recording of {state.id} v{state.version} given up")
        if exported and self._exporter is not None:
            self._exporter.poke()
        return RecordResult(order_numbers=numbers)

    def close(self) -> None:
        self._executor.shutdown(wait=False)


def _beat_interval(heartbeat_timeout: timedelta | None) -> float:
    if heartbeat_timeout is None:
        return HEARTBEAT_EVERY.total_seconds()
    return heartbeat_timeout.total_seconds() / 3
