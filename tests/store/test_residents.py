"""The resident in the read model: sealed, masked for lists, opened for one request; rows in the
clear or under an older key resealed under the newest key (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select

from daiban.core.codec import new_key
from daiban.core.sealed import Sealer, SealError
from daiban.store import residents
from daiban.store.db import session_scope
from models.contracts import Resident
from models.db import RequestRow
from tests.store.rollup_rows import request

CLEAR = {"name": "甄鑫淼", "id_number": "370285194802150024", "phone": "13805321234"}
MASKED = {"name": "甄*淼", "id_number": "370285********0024", "phone": "138****1234"}
OLD, NEW = ("k1", base64.b64decode(new_key())), ("k2", base64.b64decode(new_key()))


def document(rid: str) -> dict[str, object]:
    return {"id": rid, "stage": "township_review", "resident": dict(CLEAR)}


def test_the_stored_document_holds_the_resident_masked_and_sealed() -> None:
    sealer = Sealer([OLD])
    stored = residents.seal(document("r1"), sealer)
    assert {k: stored["resident"][k] for k in MASKED} == MASKED
    assert all(value not in str(stored) for value in CLEAR.values())
    assert residents.masked_resident(stored) == Resident(**MASKED)
    assert residents.opened(stored, sealer)["resident"] == CLEAR
    # A row written before sealing: masked for a list, as it is for one request.
    assert residents.masked_resident(document("r1")) == Resident(**MASKED)
    assert residents.opened(document("r1"), sealer)["resident"] == CLEAR
    # Copied into another request's row, it does not open.
    with pytest.raises(SealError):
        residents.opened({**stored, "id": "r2"}, sealer)


def test_reseal_moves_every_row_to_the_newest_key_in_batches(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Sealer([OLD])
    with session_scope(engine) as session:
        for n in range(7):
            rid = f"r{n}"
            # Rows in the clear (written before sealing), under the old key, under the new one.
            state = [document(rid), residents.seal(document(rid), old)][n % 2]
            session.add(request(rid, version=n + 1, state=state))
        session.add(request("r9", 1, state=residents.seal(document("r9"), Sealer([NEW]))))
    rotated = Sealer([NEW, OLD])
    monkeypatch.setattr(residents, "RESEAL_BATCH", 3)
    counts, after = [], ""
    while after is not None:
        with session_scope(engine) as session:
            done, after = residents.reseal(session, rotated, after)
        counts.append(done)
    assert counts == [3, 3, 1]  # r0-r2, r3-r5, r6 and r9 (already current)
    with session_scope(engine) as session:
        rows = session.exec(select(RequestRow).order_by(col(RequestRow.id))).all()
        assert [r.version for r in rows] == [1, 2, 3, 4, 5, 6, 7, 1]  # the requests unchanged
        assert all(r.state["resident"]["sealed"]["key"] == "k2" for r in rows)
        assert all(residents.opened(r.state, Sealer([NEW]))["resident"] == CLEAR for r in rows)
        raw = " ".join(
            str(v)
            for v in session.exec(text("SELECT CAST(state AS TEXT) FROM requests")).all()  # type: ignore[call-overload]
        )
    assert all(value not in raw for value in CLEAR.values())
    monkeypatch.setattr(residents, "RESEAL_BATCH", 500)
    with session_scope(engine) as session:
        assert residents.reseal(session, rotated) == (0, None)  # nothing left, one batch
