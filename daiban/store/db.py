"""Engines, sessions, migrations, the offices table and the read model's upsert.

The calendar overrides live in ``daiban.store.calendar``.

SQLite (the embedded default) and PostgreSQL (production) are both first-class: every function here
works on both, and tests/store runs on both.

Errors meant for people are one line and never contain a password: ``DatabaseUnavailable`` when the
database cannot be reached, ``SchemaOutOfDate`` when it is not migrated to this code's head.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, event, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlmodel import Session, SQLModel, col, select

from daiban.domain.offices import InvalidOfficeTree, OfficeTree, make_office
from daiban.domain.offices import Office as DomainOffice
from daiban.store import rollup
from models.db import Office, RequestRow

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Seconds to wait for a PostgreSQL connection before calling the database unreachable.
PG_CONNECT_TIMEOUT = 10
# A fixed key for pg_advisory_xact_lock, so that replicas migrating at once take turns.
_MIGRATION_LOCK_KEY = 0x0DA1BA4
# How long a SQLite writer waits for another writer's lock before failing, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 5000


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message is one line without secrets."""


class SchemaOutOfDate(Exception):
    """The database is reachable but not migrated to the revision this code needs."""


# --- engines and sessions ----------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def display_url(url: str | URL) -> str:
    """The URL as a person should see it: no password, no driver name."""
    parsed = make_url(normalize_url(url)) if isinstance(url, str) else url
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_dumps(value: object) -> str:
    # Readable Chinese in the database (no ASCII escapes); dates as ISO 8601 strings.
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def make_engine(url: str) -> Engine:
    """An engine for a SQLite file (or memory) or a PostgreSQL URL, configured for this service."""
    try:
        parsed = make_url(normalize_url(url))
    except (ArgumentError, ValueError):
        # The message leaves the URL out: an unparseable one may still hold a password.
        raise DatabaseUnavailable(
            "the database URL is not valid (expected sqlite:///PATH or postgresql://USER@HOST/DB)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _make_sqlite_engine(parsed)
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        connect_args=connect_args,
        json_serializer=_json_dumps,
    )


def _make_sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    in_memory = in_memory or "mode=memory" in database
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        # One shared connection for an in-memory database, or every session would see its own.
        poolclass=StaticPool if in_memory else None,
        json_serializer=_json_dumps,
    )

    @event.listens_for(engine, "do_connect")
    def _create_directory(*_args: Any) -> None:
        # On first connect rather than in make_engine, so that a mistyped path that is only
        # checked (check_schema) leaves nothing behind.
        path = _sqlite_file(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # sqlite then fails to open the file; check_database says so in one line

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers run beside the one writer. NORMAL never corrupts the file; a power
            # cut may lose the last commits (the durable middle ground of docs/operations.md).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()
        # The statistics rollup groups by local day; SQLite has no time zones of its own.
        dbapi_connection.create_function(
            rollup.SQLITE_LOCAL_DATE, 2, rollup.sqlite_local_date, deterministic=True
        )

    return engine


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or a ``file:`` URI."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises.

    Objects stay readable after the block (``expire_on_commit=False``).
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe_error(error: BaseException) -> str:
    """The first line of the driver's message (SQLAlchemy's wrapper adds SQL and links)."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def _unreachable_reason(error: BaseException) -> str:
    """A connection failure cut to its cause: 'connection refused', not the whole story."""
    line = describe_error(error).rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    return line[:1].lower() + line[1:]


def check_database(engine: Engine) -> None:
    """Open a connection and run ``SELECT 1``; raise ``DatabaseUnavailable`` in one line if not."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        raise DatabaseUnavailable(
            f"database {display_url(engine.url)} is unreachable: {_unreachable_reason(error)}"
        ) from error


# --- migrations --------------------------------------------------------------------------------


def _alembic_config() -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    # From the package path, so that it works from any working directory ('%' escaped for ini).
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Raise ``SchemaOutOfDate`` unless the database is at this code's head revision.

    A missing SQLite file is reported as such rather than created empty.
    """
    path = _sqlite_file(engine.url) if engine.dialect.name == "sqlite" else None
    if path is not None and not path.exists():
        raise SchemaOutOfDate(
            f"database {display_url(engine.url)} does not exist: run `daiban db upgrade`"
        )
    check_database(engine)
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database {display_url(engine.url)} is at revision {current or 'none'}, "
            f"this code needs {head}: run `daiban db upgrade`"
        )


def upgrade(url: str, revision: str = "head", timezone: str | None = None) -> str | None:
    """Run the migrations up to ``revision`` (head by default); return the revision reached.

    ``timezone`` is the offices' (the statistics rollup groups by local day); None reads
    ``DAIBAN_TIMEZONE`` from the settings.
    """
    engine = make_engine(url)
    try:
        check_database(engine)
        config = _alembic_config()
        if timezone is not None:
            config.attributes["timezone"] = timezone
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Held until commit: a second replica waits here, then finds nothing to do.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return current_revision(engine)
    finally:
        engine.dispose()


# --- offices -----------------------------------------------------------------------------------

OFFICE_KEYS = ("code", "name", "tier", "parent", "urban")


def parse_offices(data: object) -> list[DomainOffice]:
    """Validate an offices file's content: ``{"offices": [{"code", "name", "tier", "parent",
    "urban"}, …]}``, with ``parent`` null (or absent) for a city and ``urban`` false by default.

    The offices of one file may span several cities. Each entry is checked on its own here; that
    they form a tree is checked when they are loaded (``load_offices``), together with the offices
    already in the database. Raises ValueError in one line, naming the entry.
    """
    if not isinstance(data, dict) or set(data) != {"offices"}:
        raise ValueError('expected a JSON object {"offices": [...]}')
    entries = data["offices"]
    if not isinstance(entries, list) or not entries:
        raise ValueError("'offices' must be a non-empty list")
    offices: list[DomainOffice] = []
    for n, entry in enumerate(entries):
        where = f"offices[{n}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected an object")
        unknown = sorted(set(entry) - set(OFFICE_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}")
        code, name, tier = (entry.get(key) for key in ("code", "name", "tier"))
        parent, urban = entry.get("parent"), entry.get("urban", False)
        for key, value in (("code", code), ("name", name), ("tier", tier)):
            if not isinstance(value, str):
                raise ValueError(f"{where}: {key!r} must be a string")
        if parent is not None and not isinstance(parent, str):
            raise ValueError(f"{where}: 'parent' must be a string or null")
        if not isinstance(urban, bool):
            raise ValueError(f"{where}: 'urban' must be true or false")
        try:
            offices.append(make_office(str(code), str(name), str(tier), parent, urban))
        except InvalidOfficeTree as error:
            raise ValueError(f"{where}: {error}") from None
    return offices


def _domain_office(row: Office) -> DomainOffice:
    return make_office(row.code, row.name, row.tier, row.parent, row.urban)


def office_tree(session: Session) -> OfficeTree | None:
    """The offices in the database as a tree; None when none are loaded."""
    rows = session.exec(select(Office).order_by(col(Office.code))).all()
    return OfficeTree(_domain_office(row) for row in rows) if rows else None


def load_offices(engine: Engine, offices: Iterable[DomainOffice]) -> int:
    """Insert or update offices by code, in one transaction; return how many rows changed.

    Idempotent: loading the same list again changes nothing and returns 0. Offices missing from
    the list are kept (requests may still refer to them). The offices in the database after the
    load must form a tree (``OfficeTree``): otherwise ``InvalidOfficeTree`` and nothing is written.
    """
    changed = 0
    with session_scope(engine) as session:
        # Locked (PostgreSQL): two loads at once would each check a tree the other then changes.
        existing = {row.code: row for row in session.exec(select(Office).with_for_update())}
        wanted = list(offices)
        codes = {office.code for office in wanted}
        kept = (_domain_office(row) for code, row in existing.items() if code not in codes)
        OfficeTree([*wanted, *kept])  # raises InvalidOfficeTree, a code listed twice included
        for office in wanted:
            fields = (office.name, office.tier, office.parent, office.urban)
            row = existing.get(office.code)
            if row is None:
                row = Office(code=office.code, name=office.name, tier=office.tier)
                row.parent, row.urban = office.parent, office.urban
                existing[office.code] = row
                session.add(row)
                changed += 1
            elif (row.name, row.tier, row.parent, row.urban) != fields:
                row.name, row.tier, row.parent, row.urban = fields
                changed += 1
    return changed


# --- read model --------------------------------------------------------------------------------


def upsert_request(session: Session, row: RequestRow, tz: ZoneInfo) -> bool:
    """Insert or replace a read-model row unless the stored one has the same or a newer version,
    and move the statistics rollup by the difference (``daiban.store.rollup``), in the caller's
    transaction. Returns True when the row was written; a retry of the same version writes
    nothing and adds nothing.

    The stored row is read locked (``SELECT … FOR UPDATE``) before it is replaced, so the amount
    subtracted is what the row held. When there is no row yet, insert-if-absent: of two first
    writes of one request, the second waits for the first's commit, finds the row and locks it.
    SQLite has no row locks: there the insert comes first, as it takes the database's write lock,
    and nothing can change the row between the read and the update.
    """
    table: Table = SQLModel.metadata.tables["requests"]
    values = {column.name: getattr(row, column.name) for column in table.columns}
    counted = [table.c[name] for name in ("version", *rollup.SOURCE_COLUMNS)]
    locked = select(*counted).where(table.c.id == row.id).with_for_update()
    # PostgreSQL: lock first, since nearly every write replaces a row (one statement fewer).
    old = session.exec(locked).first() if session.get_bind().dialect.name != "sqlite" else None
    if old is None:
        insert = rollup.dialect_insert(session, table).values(values)
        absent = insert.on_conflict_do_nothing(index_elements=[table.c.id])
        # RETURNING rather than rowcount, which psycopg does not report for this statement.
        if session.exec(absent.returning(table.c.id)).first() is not None:
            rollup.apply(session, tz, values)
            return True
        old = session.exec(locked).one()
    if old.version >= row.version:
        return False
    changed = {name: value for name, value in values.items() if name != "id"}
    session.exec(update(table).where(table.c.id == row.id).values(changed))
    rollup.apply(session, tz, values, old._mapping)
    return True
