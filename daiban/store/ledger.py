"""The supervision ledger: append-only rows per request, chained by SHA-256 (docs/design.md §3).

Each row carries the hash of the previous row of its request and the hash of its own canonical
content (which includes that previous hash), so editing, deleting or reordering any row breaks the
chain at that row and ``verify`` names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models.contracts import LedgerEvent
from models.db import LedgerRow

GENESIS = "0" * 64
_HASHED = (
    "request_id", "seq", "event_key", "at", "kind", "action", "level", "clock", "actor", "role",
    "office", "from_stage", "to_stage", "deadline", "note", "prev_hash",
)  # fmt: skip


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def row_hash(row: LedgerRow) -> str:
    content = {name: _canonical(getattr(row, name)) for name in _HASHED}
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def append_events(session: Session, request_id: str, events: Iterable[LedgerEvent]) -> int:
    """Append the events not yet in the ledger; returns how many rows were written.

    Idempotent: an event whose key is already stored is skipped, so a retried activity never
    writes a row twice. The unique (request_id, seq) constraint turns a concurrent writer into an
    error and a retry instead of a fork in the chain.
    """
    events = list(events)
    if not events:
        return 0
    keys = [e.key for e in events]
    existing = set(
        session.exec(
            select(LedgerRow.event_key).where(
                LedgerRow.request_id == request_id, col(LedgerRow.event_key).in_(keys)
            )
        )
    )
    last = session.exec(
        select(LedgerRow)
        .where(LedgerRow.request_id == request_id)
        .order_by(col(LedgerRow.seq).desc())
        .limit(1)
    ).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    written = 0
    for e in events:
        if e.key in existing:
            continue
        seq += 1
        row = LedgerRow(
            request_id=request_id, seq=seq, event_key=e.key, at=e.at, kind=e.kind,
            action=e.action, level=e.level, clock=e.clock, actor=e.actor, role=e.role,
            office=e.office, from_stage=e.from_stage, to_stage=e.to_stage, deadline=e.deadline,
            note=e.note, prev_hash=prev, hash="",
        )  # fmt: skip
        row.hash = row_hash(row)
        prev = row.hash
        session.add(row)
        written += 1
    session.flush()
    return written


@dataclass
class Verification:
    ok: bool = True
    checked: int = 0
    broken: list[int] = field(default_factory=list)


def verify(
    session: Session, request_id: str | None = None, within: SelectOfScalar[str] | None = None
) -> Verification:
    """Re-check the chains of one request, or of all requests (of those ``within`` selects),
    row by row."""
    query = select(LedgerRow).order_by(col(LedgerRow.request_id), col(LedgerRow.seq))
    if request_id is not None:
        query = query.where(LedgerRow.request_id == request_id)
    if within is not None:
        query = query.where(col(LedgerRow.request_id).in_(within))
    result = Verification()
    current, expected_seq, prev = None, 1, GENESIS
    for row in session.exec(query):
        if row.request_id != current:
            current, expected_seq, prev = row.request_id, 1, GENESIS
        result.checked += 1
        if row.seq != expected_seq or row.prev_hash != prev or row.hash != row_hash(row):
            assert row.id is not None
            result.broken.append(row.id)
        expected_seq, prev = row.seq + 1, row.hash
    result.ok = not result.broken
    return result
