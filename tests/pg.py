"""Throw-away PostgreSQL databases for tests (any suite may import this module).

``create_database()`` makes a fresh, empty database and returns its URL; ``drop_database(url)``
removes it. PostgreSQL runs on every machine of this project (docs/operations.md), so an
unreachable server is an error that fails the test, never a reason to skip it.

The server is taken from ``DAIBAN_TEST_PG_ADMIN_URL`` when set, otherwise the local one with trust
authentication, as user ``postgres`` or else ``root``.
"""

from __future__ import annotations

import os
import secrets

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

_LOCAL_ADMIN_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://root@127.0.0.1:5432/postgres",
)
PREFIX = "daiban_test_"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server to create test databases on."""


def _connect_admin() -> tuple[psycopg.Connection[tuple[object, ...]], str]:
    configured = os.environ.get("DAIBAN_TEST_PG_ADMIN_URL")
    candidates = (configured,) if configured else _LOCAL_ADMIN_URLS
    failures = []
    for url in candidates:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5), url
        except psycopg.OperationalError as error:
            first_line = (str(error).strip().splitlines() or ["?"])[0]
            failures.append(f"{make_url(url).render_as_string(hide_password=True)}: {first_line}")
    raise PostgresUnavailable("PostgreSQL is unreachable for tests: " + "; ".join(failures))


def create_database() -> str:
    """Create an empty database ``daiban_test_<random hex>`` and return its URL."""
    name = PREFIX + secrets.token_hex(6)
    connection, admin_url = _connect_admin()
    with connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by ``create_database``, closing any connection still open to it."""
    name = make_url(url).database
    if not name or not name.startswith(PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    connection, _ = _connect_admin()
    with connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
