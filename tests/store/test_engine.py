"""Engines: URL handling, SQLite settings, one-line errors without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from daiban.store.db import (
    DatabaseUnavailable,
    check_database,
    display_url,
    make_engine,
    normalize_url,
    upgrade,
)


def test_postgresql_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///var/daiban.db") == "sqlite:///var/daiban.db"
    engine = make_engine("postgresql://u@127.0.0.1:5432/db")
    assert engine.dialect.driver == "psycopg"
    assert engine.pool.size() == 10  # type: ignore[attr-defined]


def test_display_url_hides_the_password_and_driver() -> None:
    shown = display_url("postgresql+psycopg://daiban:s3cret@db:5432/daiban")
    assert shown == "postgresql://daiban:***@db:5432/daiban"


def test_sqlite_engine_creates_the_directory_and_sets_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'daiban.db'}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
        assert pragma == {"journal_mode": "wal", "busy_timeout": 5000, "foreign_keys": 1}
        assert (tmp_path / "a" / "b" / "daiban.db").exists()
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_shared_between_sessions() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_unreachable_postgresql_is_one_line_without_the_password() -> None:
    engine = make_engine("postgresql://daiban:s3cret@127.0.0.1:1/nope")
    with pytest.raises(DatabaseUnavailable) as caught:
        check_database(engine)
    message = str(caught.value)
    assert message == "database postgresql://daiban:***@127.0.0.1:1/nope is unreachable: " + (
        "connection refused"
    )
    assert "s3cret" not in message and "\n" not in message


def test_unopenable_sqlite_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DatabaseUnavailable, match="unreachable: unable to open database file"):
        upgrade(f"sqlite:///{blocker / 'daiban.db'}")


def test_a_malformed_url_is_one_line_without_its_content() -> None:
    with pytest.raises(DatabaseUnavailable, match="not valid") as caught:
        make_engine("postgresql://daiban:s3cret@host:notaport/db")
    assert "s3cret" not in str(caught.value)
