"""``Idempotency-Key`` for submissions: one key of one agent names one request for 24 hours.

The request id is derived from (agent, key), so concurrent duplicates collide on the workflow id
(``req-<id>``) and Temporal starts at most one workflow; the key row, claimed before the start, is
the record of which body the key belongs to. The same key with another body is a 422 (as the IETF
idempotency-key draft recommends). A key older than 24 hours is replaced by a new claim whose id
is derived from the old one, so a reused key after expiry gets a fresh request, never the old one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete

from daiban.db import session_scope
from daiban.problems import Unavailable, invalid
from models.db import IdempotencyKey, utc_now

KEY_TTL = timedelta(hours=24)
KEY_MAX = 200
ID_HEX = 20
_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    request_id: str
    created: bool  # True for the first submission of the key (201), False for a replay (200)


def body_hash(office: str, body: dict[str, Any]) -> str:
    """The submission as the workflow would receive it: the body and the village it comes from."""
    blob = json.dumps([office, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def derive_id(agent: str, key: str, previous: str | None = None) -> str:
    seed = "\n".join(part for part in (agent, key, previous) if part is not None)
    return hashlib.sha256(seed.encode()).hexdigest()[:ID_HEX]


def claim(engine: Engine, agent: str, key: str, digest: str, now: datetime | None = None) -> Claim:
    """Claim ``key`` for this body, or return the request it already names (blocking: run it in
    a thread). Raises a 422 problem when the key names a request with another body."""
    now = now or utc_now()
    for _ in range(_ATTEMPTS):
        with session_scope(engine) as session:
            row = session.get(IdempotencyKey, (agent, key))
            previous = row.request_id if row is not None else None
            if row is not None and now - row.created_at < KEY_TTL:
                if row.body_hash != digest:
                    raise invalid(
                        "Idempotency-Key", "this key was used with a different request body"
                    )
                return Claim(row.request_id, created=False)
        request_id = derive_id(agent, key, previous)
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
                session.add(
                    IdempotencyKey(
                        agent=agent,
                        key=key,
                        request_id=request_id,
                        body_hash=digest,
                        created_at=now,
                    )
                )
            return Claim(request_id, created=True)
        except IntegrityError:
            continue  # another submission claimed it first: read its claim
    raise Unavailable("the idempotency key is contended; retry")
