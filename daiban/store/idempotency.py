"""``Idempotency-Key`` for submissions: one key of one agent names one request for 24 hours.

The key row, claimed before the workflow starts, is the record of which request and which body the
key belongs to: its primary key (agent, key) lets exactly one of concurrent duplicates insert it,
and the others read the request id it names, so Temporal starts at most one workflow. The same key
with another body is a 422 (as the IETF idempotency-key draft recommends). A key older than 24 hours
names nothing: a new claim replaces it with a fresh random request id, so a key reused after expiry
gets a new request, never the old one (an id derived from the key alone would lead back to the old
workflow once the row is gone).

Expired rows are purged from the submit path itself (one indexed ``DELETE``, at most once per
``PURGE_EVERY`` per process and database), so they never accumulate and no extra job is needed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete

from daiban.store.db import session_scope
from daiban.store.errors import Contended, InvalidQuery
from models.db import IdempotencyKey, utc_now

KEY_TTL = timedelta(hours=24)
KEY_MAX = 200
PURGE_EVERY = timedelta(minutes=10)
_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    request_id: str
    created: bool  # True for the first submission of the key (201), False for a replay (200)
    number: str | None = None  # the request's number, given with the claim


def body_hash(office: str, body: dict[str, Any]) -> str:
    """The submission as the workflow would receive it: the body and the village it comes from."""
    blob = json.dumps([office, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class PurgeSchedule:
    """When this process last purged each database (by URL): purges are due every
    ``PURGE_EVERY``, and only one caller of many concurrent ones gets to run a due purge."""

    def __init__(self, every: timedelta = PURGE_EVERY) -> None:
        self._every = every.total_seconds()
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, engine: Engine, clock: float | None = None) -> bool:
        clock = time.monotonic() if clock is None else clock
        url = engine.url.render_as_string(hide_password=True)
        with self._lock:
            last = self._last.get(url)
            if last is not None and clock - last < self._every:
                return False
            self._last[url] = clock
            return True


purges = PurgeSchedule()


def purge_expired(engine: Engine, now: datetime | None = None) -> int:
    """Delete the keys older than ``KEY_TTL`` (blocking); the number deleted."""
    cutoff = (now or utc_now()) - KEY_TTL
    with session_scope(engine) as session:
        result = session.exec(delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < cutoff))
        return int(result.rowcount)


def claim(
    engine: Engine,
    agent: str,
    key: str,
    digest: str,
    now: datetime | None = None,
    numbering: Callable[[Session], str] | None = None,
) -> Claim:
    """Claim ``key`` for this body, or return the request it already names (blocking: run it in
    a thread). Raises ``InvalidQuery`` when the key names a request with another body.
    ``numbering`` gives the new request's number in the claim's transaction."""
    now = now or utc_now()
    if purges.due(engine):
        purge_expired(engine, now)
    for _ in range(_ATTEMPTS):
        with session_scope(engine) as session:
            row = session.get(IdempotencyKey, (agent, key))
            previous = row.request_id if row is not None else None
            if row is not None and now - row.created_at < KEY_TTL:
                if row.body_hash != digest:
                    raise InvalidQuery(
                        "Idempotency-Key", "this key was used with a different request body"
                    )
                return Claim(row.request_id, created=False, number=row.number)
        request_id = uuid.uuid4().hex
        try:
            with session_scope(engine) as session:
                if previous is not None:
                    # Expired: remove exactly the row we saw; a concurrent replacer removes none.
                    session.exec(
                        delete(IdempotencyKey).where(
                            col(IdempotencyKey.agent) == agent,
                            col(IdempotencyKey.key) == key,
                            col(IdempotencyKey.request_id) == previous,
                        )
                    )
                number = numbering(session) if numbering is not None else None
                session.add(
                    IdempotencyKey(
                        agent=agent,
                        key=key,
                        request_id=request_id,
                        body_hash=digest,
                        created_at=now,
                        number=number,
                    )
                )
            return Claim(request_id, created=True, number=number)
        except IntegrityError:
            continue  # another submission claimed it first: read its claim
    raise Contended("the idempotency key is contended; retry")
