"""Read-model rows for the rollup tests, and the rollup computed from them independently of
``daiban.store.rollup`` (what the maintained, backfilled and rebuilt rollups must all equal)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from daiban.store.rollup import STATS
from models.db import RequestRow, RequestStatsDaily

TZ = ZoneInfo("Asia/Shanghai")
CITY, OTHER_CITY = "370285000", "370283000"
PLACES = [("370285004", CITY), ("370285005", CITY), ("370283001", OTHER_CITY)]
# Instants around local midnights of Asia/Shanghai (16:00 UTC), so rows land on both sides.
MIDNIGHT = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
INSTANTS = [MIDNIGHT + timedelta(days=d, seconds=s) for d in range(4) for s in (-1, 0, 1, 6 * 3600)]
STAGES = ["village_intake", "township_review", "completed", "refused"]

Key = tuple[date, str, str]


def request(rid: str, version: int, **fields: Any) -> RequestRow:
    township, city = fields.pop("place", PLACES[0])
    values: dict[str, Any] = {
        "id": rid, "item": "dibao", "village": township + "001", "township": township,
        "city": city, "stage": "township_review", "responsible_office": township, "agent": "a",
        "version": version, "created_at": INSTANTS[0], "state": {"n": version},
    }  # fmt: skip
    return RequestRow(**(values | fields))


def expected(rows: Iterable[RequestRow], tz: ZoneInfo) -> dict[Key, dict[str, int]]:
    """The rollup computed here from the rows, independently of daiban.store.rollup."""
    out: dict[Key, Counter[str]] = {}
    for r in rows:
        c = out.setdefault((r.created_at.astimezone(tz).date(), r.township, r.city), Counter())
        c["total"] += 1
        c["completed"] += r.stage == "completed"
        c["on_time_true"] += r.on_time is True
        c["on_time_count"] += r.on_time is not None
        c["working_days_sum"] += r.working_days or 0
        c["working_days_count"] += r.working_days is not None
        c["reminder"] += r.reminder_count
        c["yellow"] += r.yellow_count
        c["red"] += r.red_count
        unconfirmed = r.rating_score is not None and r.rating_channel == "agent_unconfirmed"
        if unconfirmed:
            c["agent_unconfirmed"] += 1
        elif r.rating_score is not None:
            c[f"rating_{r.rating_score}"] += 1
            c["rated"] += 1
        # The rectification figures count the bad ratings the rates count; an upheld appeal takes
        # its rating out of the rates, callbacks included.
        bad = not unconfirmed and r.rating_score is not None and r.rating_score <= 2
        upheld = bad and r.appeal_upheld is True
        c["rectified_true"] += bad and r.rectified is True
        c["callback_due"] += bad and not upheld and r.called_back is not None
        c["called_back"] += bad and not upheld and r.called_back is True
        c["appeal_upheld"] += upheld
    return {key: {name: c[name] for name in STATS} for key, c in out.items()}


def stored(session: Session) -> dict[Key, dict[str, int]]:
    """The rollup's rows; rows that sum to nothing (a request moved away) are left out."""
    found = {}
    for row in session.exec(select(RequestStatsDaily)):
        sums = {name: getattr(row, name) for name in STATS}
        if any(sums.values()):
            found[(row.day, row.township, row.city)] = sums
    return found
