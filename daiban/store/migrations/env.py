"""Alembic environment of the daiban database.

Called two ways:

- by ``daiban.store.db.upgrade`` (and ``daiban db upgrade``), which passes an open connection in
  ``config.attributes["connection"]`` and leaves logging alone;
- by the ``alembic`` command line with ``-c daiban/store/migrations/alembic.ini``; the URL then
  comes from ``-x url=...`` or from the settings (``DAIBAN_DATABASE_URL``).

The offices' time zone is in ``config.attributes["timezone"]``: given by
``daiban.store.db.upgrade``, or else ``DAIBAN_TIMEZONE`` from the settings.

Autogenerate renders our column types as plain SQLAlchemy types so that revision files never import
application code, and SQLite gets batch mode so that later ALTERs work there too.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import models.db
from daiban.core.settings import get_settings
from daiban.store.db import make_engine, normalize_url

config = context.config
target_metadata = SQLModel.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if type_ == "type" and isinstance(obj, models.db.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: write the SQL instead of running it."""
    context.configure(
        url=normalize_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        render_item=_render_item,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _configure_and_run(connection)
    finally:
        engine.dispose()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    return url or get_settings().database_url


if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    # The alembic command line only; never let a library call reset the application's loggers.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if "timezone" not in config.attributes:
    # The offices' time zone, for migrations that group by local day (0002's backfill).
    config.attributes["timezone"] = get_settings().timezone

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
