"""Request numbers (办件编号): what a resident, an agent and a clerk read and quote.

``370285-20261201-0042``: the city's area code (the first six digits of its office code), the
offices' local date of submission, and a sequence per city and day. The API gives the number with
the submission's claim (``daiban.store.idempotency``), so a retried submission keeps its number;
a submission that never starts leaves its number unused (numbers are unique, not gapless). The
counter row is locked while the number is taken, so concurrent submissions never share one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table, update
from sqlmodel import Session, SQLModel, col, select

from daiban.store import rollup
from models.db import RequestNumberCounter


def format_number(city: str, day: str, seq: int) -> str:
    return f"{city[:6]}-{day}-{seq:04d}"


def next_number(session: Session, city: str, at: datetime, tz: ZoneInfo) -> str:
    """Take the next number of ``city`` for the local day of ``at``, in the caller's
    transaction."""
    day = at.astimezone(tz).strftime("%Y%m%d")
    table: Table = SQLModel.metadata.tables["request_number_counters"]
    insert = rollup.dialect_insert(session, table)
    session.exec(insert.values(city=city, day=day, last=0).on_conflict_do_nothing())
    key = (col(RequestNumberCounter.city) == city, col(RequestNumberCounter.day) == day)
    last = session.exec(select(RequestNumberCounter.last).where(*key).with_for_update()).one()
    session.exec(update(RequestNumberCounter).where(*key).values(last=last + 1))
    return format_number(city, day, last + 1)
