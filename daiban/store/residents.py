"""The resident in the read model: sealed at rest, masked for lists, opened for one request.

The ``state`` column of a read-model row is the request's state document, except that its
``resident`` holds the masked name, ID number and phone (what a list shows, readable without keys)
and ``sealed``: the resident in the clear, sealed with the codec's keys and bound to the request id
(``daiban.core.sealed``). Opening needs a key; reading a list does not.

Rows written before sealing hold the resident in the clear; both forms are read, and
``reseal`` rewrites them (and rows sealed under an older key) under the newest key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from daiban.core.sealed import Sealer
from daiban.domain.privacy import mask_resident
from models.contracts import RequestState, Resident
from models.db import RequestRow
from models.documents import state_from_document

SEALED = "sealed"
RESEAL_BATCH = 500


def seal(document: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    """The state document as the read model stores it: the resident masked, plus sealed."""
    clear = document["resident"]
    masked = mask_resident(Resident(**clear))
    resident = {**vars(masked), SEALED: sealer.seal(clear, document["id"])}
    return {**document, "resident": resident}


def masked_resident(document: dict[str, Any]) -> Resident:
    """The resident as a list shows it; no key needed."""
    resident = document["resident"]
    shown = Resident(resident["name"], resident["id_number"], resident["phone"])
    return shown if SEALED in resident else mask_resident(shown)


def opened(document: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    """The state document with the resident in the clear (``SealError`` if it does not open)."""
    resident = document["resident"]
    if SEALED not in resident:
        return document  # written before sealing
    return {**document, "resident": sealer.open(resident[SEALED], document["id"])}


def state_of(row: RequestRow, sealer: Sealer) -> RequestState:
    """The stored state with the resident in the clear, for a caller entitled to it."""
    return state_from_document(opened(row.state, sealer))


def masked_state_of(row: RequestRow) -> RequestState:
    """The stored state with the resident masked: for decisions that need no resident."""
    return state_from_document({**row.state, "resident": vars(masked_resident(row.state))})


def reseal(session: Session, sealer: Sealer, after: str = "") -> tuple[int, str | None]:
    """Seal the rows after ``after`` (by id, one batch) whose resident is in the clear or under
    an older key. Returns how many were rewritten and where the next batch starts (None when
    this was the last). The version is kept: this changes how a row is stored, not the request.
    """
    rows = session.exec(
        select(RequestRow.id, RequestRow.state)
        .where(col(RequestRow.id) > after)
        .order_by(col(RequestRow.id))
        .limit(RESEAL_BATCH)
    ).all()
    done = 0
    for request_id, document in rows:
        sealed = document["resident"].get(SEALED)
        if sealed is not None and sealer.current(sealed):
            continue
        fresh = seal(opened(dict(document), sealer), sealer)
        session.exec(update(RequestRow).where(col(RequestRow.id) == request_id).values(state=fresh))
        done += 1
    return done, (rows[-1][0] if len(rows) == RESEAL_BATCH else None)
