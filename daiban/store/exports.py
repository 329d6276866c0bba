"""Records for the province's rating system (docs/export.md), queued in the export outbox.

The recording of a transition calls ``queue_exports`` in its own transaction: a request that
reached a final stage gets its one ``request`` record, and a rating gets a ``rating`` record each
time its exported content changes (the rating, a default rating, the resident's rating of the
fix, an appeal and its outcome). Each record is keyed by the request number, its kind and a
sequence, so a retried recording finds what it queued and adds nothing; the exporter
(``activities.export``) delivers them.

No record holds the resident: not the name, the ID number or the phone (they are sealed in the
read model, RELIABILITY.md "Trust boundary"), nor the rating's comment, free text a resident may
sign with a name or a phone number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from daiban.store.residents import masked_state_of
from models.contracts import CLOSED_STAGES, RatingInfo, RequestState
from models.db import ExportRow, Office, RequestRow

SCHEMA = "daiban.export/1"
KINDS = ("request", "rating")
# Fields that name a record rather than say something: two records that differ only in them say
# the same thing, and the second is not queued.
_NAMING = frozenset({"key", "seq"})
BACKFILL_BATCH = 500


def export_key(number: str, kind: str, seq: int) -> str:
    """The record's identity downstream (the webhook's ``Idempotency-Key``)."""
    return f"{number}:{kind}:{seq}"


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _office(session: Session, code: str | None) -> dict[str, str] | None:
    """An office by code and name (the name as the offices table has it; empty when unknown)."""
    if not code:
        return None
    row = session.get(Office, code)  # the session's identity map answers repeats
    return {"code": code, "name": row.name if row is not None else ""}


def _header(session: Session, state: RequestState, kind: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": kind,
        "number": state.number or state.id,
        "item": {"code": state.item, "name": state.item_name},
        "offices": {
            "village": _office(session, state.village),
            "township": _office(session, state.township),
            "city": _office(session, state.city),
            "handling": _office(session, state.handling_office),
        },
    }


def request_record(
    session: Session, state: RequestState, working_days: int | None
) -> dict[str, Any]:
    """A closed request as the province counts it (its number, item, offices, instants and
    outcome). ``closed_at`` is the instant of the recording that closed it."""
    return {
        **_header(session, state, "request"),
        "deciding_tier": state.deciding_tier,
        "stage": state.stage,
        "submitted_at": _instant(state.created_at),
        "accepted_at": _instant(state.accepted_at),
        "decided_at": _instant(state.decided_at),
        "closed_at": _instant(state.updated_at),
        "decision": state.decision,
        "deemed_accepted": state.deemed_accepted,
        "on_time": state.on_time,
        "working_days": working_days,
    }


def rating_record(session: Session, state: RequestState, rating: RatingInfo) -> dict[str, Any]:
    """A rating: score, channel and tiers (null when the rating has none), default or not, and
    what followed (the fix's rating, an appeal). The rated office is the one that decided."""
    rated = state.handling_office or state.responsible_office
    return {
        **_header(session, state, "rating"),
        "rated_office": _office(session, rated),
        "score": rating.score,
        "channel": rating.channel or None,
        "tiers": dict(rating.tiers) or None,
        "is_default": rating.is_default,
        "rated_at": _instant(rating.at),
        "fix_score": rating.fix_score,
        "appeal": rating.appeal,
    }


def _latest(session: Session, number: str, kind: str) -> ExportRow | None:
    return session.exec(
        select(ExportRow)
        .where(col(ExportRow.number) == number, col(ExportRow.kind) == kind)
        .order_by(col(ExportRow.seq).desc())
        .limit(1)
    ).first()


def _says(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in _NAMING}


def _add(
    session: Session, state: RequestState, record: dict[str, Any], latest: ExportRow | None
) -> ExportRow | None:
    """Queue ``record`` after ``latest`` of its kind, unless it says what ``latest`` says or
    ``latest`` came from a later state (a late recording never re-exports the past)."""
    if latest is not None and (
        latest.state_version >= state.version or _says(latest.record) == _says(record)
    ):
        return None
    number, kind = record["number"], record["kind"]
    seq = latest.seq + 1 if latest is not None else 1
    key = export_key(number, kind, seq)
    row = ExportRow(
        key=key,
        request_id=state.id,
        number=number,
        kind=kind,
        seq=seq,
        state_version=state.version,
        record={"key": key, "seq": seq, **record},
    )
    session.add(row)
    return row


def queue_exports(
    session: Session, state: RequestState, working_days: int | None
) -> list[ExportRow]:
    """The records this recorded state adds to the export outbox (none on a retry): the request
    once it is closed, its rating whenever the rating's exported content changed."""
    queued: list[ExportRow] = []
    number = state.number or state.id
    if state.stage in CLOSED_STAGES and _latest(session, number, "request") is None:
        row = _add(session, state, request_record(session, state, working_days), None)
        queued += [row] if row is not None else []
    if state.rating is not None:
        record = rating_record(session, state, state.rating)
        row = _add(session, state, record, _latest(session, number, "rating"))
        queued += [row] if row is not None else []
    return queued


def export_counts(session: Session) -> dict[str, int]:
    """Records in the outbox by status (pending is the backlog; failed waits for an operator)."""
    query = select(ExportRow.status, func.count()).group_by(col(ExportRow.status))
    counts = {"pending": 0, "sent": 0, "failed": 0}
    counts.update({status: int(n) for status, n in session.exec(query)})
    return counts


def retry_failed(session: Session) -> int:
    """Put the records marked failed back in the queue, their attempts counted afresh (after an
    operator fixed what made them fail); the number put back."""
    result = session.exec(
        update(ExportRow)
        .where(col(ExportRow.status) == "failed")
        .values(status="pending", attempts=0, last_error=None)
    )
    return int(result.rowcount)


def resend(session: Session, number: str) -> int:
    """Queue a request's records again (the receiver lost them); the number queued. The keys
    stay: a receiver that has a record keeps it once, and the file adapter skips a key its file
    holds."""
    result = session.exec(
        update(ExportRow)
        .where(col(ExportRow.number) == number)
        .values(status="pending", attempts=0, last_error=None)
    )
    return int(result.rowcount)


def backfill(session: Session, after: str = "") -> tuple[int, str | None]:
    """Queue the records of the requests after ``after`` (by id, one batch) that ended or were
    rated before the export existed, from their read-model rows (the resident masked: a record
    never holds it). Safe to run again: what is queued is found and not queued twice. Returns how
    many records were queued and where the next batch starts (None when this was the last)."""
    rows = session.exec(
        select(RequestRow)
        .where(
            col(RequestRow.id) > after,
            or_(col(RequestRow.status) == "closed", col(RequestRow.rating_score).is_not(None)),
        )
        .order_by(col(RequestRow.id))
        .limit(BACKFILL_BATCH)
    ).all()
    queued = 0
    for row in rows:
        queued += len(queue_exports(session, masked_state_of(row), row.working_days))
    return queued, (rows[-1].id if len(rows) == BACKFILL_BATCH else None)
