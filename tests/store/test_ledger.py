"""The supervision ledger: idempotent appends and a hash chain that exposes any tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from daiban.store.db import session_scope
from daiban.store.ledger import GENESIS, append_events, row_hash, verify
from models.contracts import LedgerEvent
from models.db import LedgerRow

T0 = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)


def events(request_id: str, n: int, start: int = 0) -> list[LedgerEvent]:
    return [
        LedgerEvent(
            key=f"{request_id}:{i}:0",
            at=T0 + timedelta(minutes=i),
            kind="action",
            actor="ts-1",
            role="township_staff",
            office="370285004",
            action=f"a{i}",
            note="备注",
        )
        for i in range(start, start + n)
    ]


def rows(engine: Engine, request_id: str) -> list[LedgerRow]:
    with Session(engine) as session:
        query = select(LedgerRow).where(LedgerRow.request_id == request_id)
        return list(session.exec(query.order_by(col(LedgerRow.seq))))


def test_append_is_idempotent_and_chained(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert append_events(session, "r1", events("r1", 3)) == 3
    with session_scope(engine) as session:  # a retry of the same transition
        assert append_events(session, "r1", events("r1", 3)) == 0
    with session_scope(engine) as session:  # the next transition, partly overlapping
        assert append_events(session, "r1", events("r1", 3, start=2)) == 2
    chain = rows(engine, "r1")
    assert [r.seq for r in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
    assert all(r.hash == row_hash(r) for r in chain)
    with Session(engine) as session:
        assert verify(session, "r1").ok


def _tamper(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def test_verify_finds_an_edited_row(engine: Engine) -> None:
    with session_scope(engine) as session:
        append_events(session, "r2", events("r2", 4))
        append_events(session, "other", events("other", 2))
    target = rows(engine, "r2")[1]
    _tamper(engine, "UPDATE supervision_ledger SET note = 'changed' WHERE id = :id", id=target.id)
    with Session(engine) as session:
        result = verify(session)
        assert (result.ok, result.broken, result.checked) == (False, [target.id], 6)
        assert verify(session, "other").ok


def test_verify_finds_a_deleted_row(engine: Engine) -> None:
    with session_scope(engine) as session:
        append_events(session, "r3", events("r3", 4))
    chain = rows(engine, "r3")
    _tamper(engine, "DELETE FROM supervision_ledger WHERE id = :id", id=chain[1].id)
    with Session(engine) as session:
        result = verify(session, "r3")
    assert not result.ok and result.broken == [chain[2].id]


def test_verify_finds_reordered_rows(engine: Engine) -> None:
    with session_scope(engine) as session:
        append_events(session, "r4", events("r4", 4))
    a, b = rows(engine, "r4")[1:3]
    # Swap the two rows' positions (via a free seq value to respect the unique constraint).
    _tamper(engine, "UPDATE supervision_ledger SET seq = 99 WHERE id = :id", id=a.id)
    _tamper(engine, "UPDATE supervision_ledger SET seq = :s WHERE id = :id", s=a.seq, id=b.id)
    _tamper(engine, "UPDATE supervision_ledger SET seq = :s WHERE id = :id", s=b.seq, id=a.id)
    with Session(engine) as session:
        result = verify(session, "r4")
    assert not result.ok and set(result.broken) >= {a.id, b.id}
