"""Written notices in the store: gapless numbers per office, kind and year, idempotent by key.

``issue_notice`` runs inside the caller's transaction (the one that records the action causing
the notice), so the notice, its number and the action land together or not at all:

- the counter row of (office, kind, year) is written first and locked (``FOR UPDATE`` on
  PostgreSQL; on SQLite the first write takes the database's write lock), so concurrent issuers
  of one sequence take turns until each commits;
- with the lock held, the key is looked up: a retried activity (same key) gets the row it wrote
  before, and a concurrent duplicate waits for the first and then finds it — never a second
  number;
- the next number is the counter plus one, written with the notice. A transaction that rolls back
  takes its increment with it, which is what keeps the sequence gapless.

Which action issues which notice, when the recording issues them (``record_transition``, in the
transaction that appends the action's ledger event, with ``key=f"{event.key}:notice"``, so that a
retry gets the same number; every kind needs ``item`` and ``item_name``, all but ``supervision``
the resident's name):

=====================  ===================  ====================================================
action                 kind                 the kind's own fields
=====================  ===================  ====================================================
accept                 acceptance           promised_date (local date of ``expected_at``)
request_supplement     supplement           missing_materials (the complete list), due_date
refuse                 refusal              reason (the note)
deny                   denial               reason (the note)
approve_extension      extension            reason (the request's note), new_date
pause                  special_procedure    procedure (the pause reason), expected_days
accept_with_gap        gap_acceptance       missing_materials, form, due_date; commitment (the
                                            承诺书, under the gap rules)
yellow card, order     supervision          to_office_name, reason, response_due
=====================  ===================  ====================================================

The resident's name is stored sealed with the codec's keys (``daiban.core.sealed``), masked beside
it, and bound to the notice's number; the SHA-256 covers the notice as printed, with the name in
the clear. ``opened_content`` gives that content back to render or to check it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlmodel import Session, SQLModel, col, select, update

from daiban.core.sealed import Sealer, SealError
from daiban.core.settings import get_settings
from daiban.domain.notices import (
    NoticeContentError,
    check_fields,
    content_sha256,
    issuer_name,
    notice_content,
    notice_number,
)
from daiban.domain.privacy import mask_name
from daiban.store import rollup
from daiban.store.errors import StoreError
from models.db import NoticeCounter, NoticeRow, Office

RESIDENT_NAME = "resident_name"


class NoticeKeyReused(StoreError):
    """A key already names a notice of another request, office or kind: a caller's bug."""


def lock_counter(session: Session, office: str, kind: str, year: int) -> int:
    """Create the counter if absent, lock it, and return the last number issued (supervision
    orders count here too, under their own kind)."""
    table: Table = SQLModel.metadata.tables["notice_counters"]
    insert = rollup.dialect_insert(session, table)
    values = {"office": office, "kind": kind, "year": year, "last": 0}
    session.exec(insert.values(values).on_conflict_do_nothing())
    locked = (
        select(NoticeCounter.last)
        .where(
            col(NoticeCounter.office) == office,
            col(NoticeCounter.kind) == kind,
            col(NoticeCounter.year) == year,
        )
        .with_for_update()
    )
    return session.exec(locked).one()


def set_counter(session: Session, office: str, kind: str, year: int, last: int) -> None:
    """Record ``last`` as the last number issued (the counter is locked by ``lock_counter``)."""
    session.exec(
        update(NoticeCounter)
        .where(
            col(NoticeCounter.office) == office,
            col(NoticeCounter.kind) == kind,
            col(NoticeCounter.year) == year,
        )
        .values(last=last)
    )


def issue_notice(
    session: Session,
    *,
    request_id: str,
    key: str,
    office: str,
    kind: str,
    issued_at: datetime,
    content: Mapping[str, Any],
    sealer: Sealer,
    tz: tzinfo | None = None,
) -> NoticeRow:
    """Issue a notice in the caller's transaction, or return the one already issued under ``key``.

    ``content`` is what the caller knows (item, resident's name, the kind's own fields; see
    ``daiban.domain.notices``); the number, issuer and time are added here, and the SHA-256 is
    taken over the whole. ``tz`` is the offices' time zone (the year of a number is the local
    year); None reads ``DAIBAN_TIMEZONE``. Raises ``NoticeContentError`` (nothing written) for
    incomplete content or an office not in the offices table, and ``NoticeKeyReused`` when the
    key names another notice.
    """
    tz = tz or ZoneInfo(get_settings().timezone)
    # Checked before anything is written, so that bad content never takes a number.
    check_fields(kind, content)
    issuing = session.get(Office, office)
    if issuing is None:
        raise NoticeContentError("office", f"unknown office {office!r}")
    year = issued_at.astimezone(tz).year
    last = lock_counter(session, office, kind, year)
    existing = session.exec(select(NoticeRow).where(col(NoticeRow.key) == key)).first()
    if existing is not None:
        if (existing.request_id, existing.office, existing.kind) != (request_id, office, kind):
            raise NoticeKeyReused(f"notice key {key!r} already names another notice")
        return existing
    seq = last + 1
    number = notice_number(issuing.name, kind, year, seq)
    canonical = notice_content(
        number=number,
        kind=kind,
        office=office,
        issuer=issuer_name(issuing.name, issuing.tier),
        issued_at=issued_at,
        request_id=request_id,
        fields=content,
        tz=tz,
    )
    row = NoticeRow(
        key=key,
        request_id=request_id,
        number=number,
        office=office,
        kind=kind,
        year=year,
        seq=seq,
        issued_at=issued_at,
        content=_sealed(canonical, sealer),
        sha256=content_sha256(canonical),
    )
    set_counter(session, office, kind, year, seq)
    session.add(row)
    session.flush()
    return row


def request_notices(session: Session, request_id: str) -> list[NoticeRow]:
    """A request's notices, in the order they were issued."""
    query = (
        select(NoticeRow)
        .where(col(NoticeRow.request_id) == request_id)
        .order_by(col(NoticeRow.issued_at), col(NoticeRow.id))
    )
    return list(session.exec(query))


def notice_by_number(session: Session, number: str) -> NoticeRow | None:
    return session.exec(select(NoticeRow).where(col(NoticeRow.number) == number)).first()


def notice_by_sha256(session: Session, sha256: str) -> NoticeRow | None:
    return session.exec(select(NoticeRow).where(col(NoticeRow.sha256) == sha256)).first()


def _sealed(content: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    name = content.get(RESIDENT_NAME)
    if not isinstance(name, str):
        return content
    stored = {"masked": mask_name(name), "sealed": sealer.seal(name, content["number"])}
    return {**content, RESIDENT_NAME: stored}


def opened_content(row: NoticeRow, sealer: Sealer) -> dict[str, Any]:
    """The notice's content as printed, the resident's name opened (``SealError`` if it does not
    open: another notice's seal, or a key this process does not hold)."""
    name = row.content.get(RESIDENT_NAME)
    if not isinstance(name, dict):
        return dict(row.content)
    return {**row.content, RESIDENT_NAME: sealer.open(name.get("sealed"), row.number)}


def is_intact(row: NoticeRow, sealer: Sealer) -> bool:
    """The stored content still hashes to the stored SHA-256 (no one edited it since)."""
    try:
        return content_sha256(opened_content(row, sealer)) == row.sha256
    except SealError:
        return False
