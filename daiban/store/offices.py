"""The office tree a running service works with: the offices in the database, read again now and
then so that ``daiban offices load`` reaches a running API without a restart.

The API asks for the tree on every authenticated call, so a fresh copy costs a clock read; at most
one thread reads the database at a time. When the database cannot be read the last tree read
stays in use (tokens still verify during an outage, and reads that need only Temporal still
answer); before any read has succeeded, and while no offices are loaded, that is the seed city's
tree (``demo_tree``), which is what an empty development database means.
"""

from __future__ import annotations

import threading
import time
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from daiban.core.logs import get_logger
from daiban.domain.offices import OfficeTree, demo_tree
from daiban.store.db import (
    DatabaseUnavailable,
    SchemaOutOfDate,
    check_schema,
    describe_error,
    make_engine,
    office_tree,
    session_scope,
)

# Seconds a tree read from the database is used before it is read again.
REFRESH_SECONDS: Final = 60.0
# Seconds to wait before trying again after a failed read (the database is away).
RETRY_SECONDS: Final = 5.0

log = get_logger("daiban.store.offices")


def read_tree(url: str) -> OfficeTree | None:
    """The offices of the database at ``url`` for a one-off command; None when that database
    does not exist, is not migrated, cannot be reached, or holds no offices (nothing is created)."""
    try:
        engine = make_engine(url)
    except DatabaseUnavailable:
        return None
    try:
        check_schema(engine)
        with session_scope(engine) as session:
            return office_tree(session)
    except (DatabaseUnavailable, SchemaOutOfDate, SQLAlchemyError):
        return None
    finally:
        engine.dispose()


class OfficeDirectory:
    """The current office tree of one database (one per process and engine)."""

    def __init__(self, engine: Engine, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._engine = engine
        self._refresh = refresh_seconds
        self._tree: OfficeTree | None = None
        self._due = 0.0  # monotonic time of the next read
        self._lock = threading.Lock()

    def fresh(self) -> OfficeTree | None:
        """The tree when it needs no read now; None when ``current`` must be called."""
        return self._tree if time.monotonic() < self._due else None

    def current(self) -> OfficeTree:
        """The tree, read from the database first when it is due (blocking: call it off the
        event loop)."""
        with self._lock:
            if self._tree is None or time.monotonic() >= self._due:
                self._read()
            assert self._tree is not None
            return self._tree

    def _read(self) -> None:
        try:
            with session_scope(self._engine) as session:
                tree = office_tree(session)
        except SQLAlchemyError as error:
            log.warning("offices unreadable; the last tree stays", error=describe_error(error))
            self._tree = self._tree or demo_tree()
            self._due = time.monotonic() + RETRY_SECONDS
            return
        if tree is None:
            log.warning("no offices loaded: the seed city's offices are used")
        self._tree = tree or demo_tree()
        self._due = time.monotonic() + self._refresh
