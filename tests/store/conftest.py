"""Fixtures of the database tests: every test that takes ``db_url`` runs on SQLite and PostgreSQL.

The PostgreSQL variant gets a fresh database per test (tests/pg.py) and fails, never skips, when
PostgreSQL is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from daiban.store.db import make_engine, upgrade
from tests.pg import create_database, drop_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'daiban.db'}"
        return
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
