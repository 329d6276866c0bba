"""What the typer side of the ``daiban`` commands shares: the typer apps, the options, and helpers
that fail with one line (database URL, a session on a migrated database). The exit codes and
calling the API live in ``base`` (no typer), re-exported here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from daiban.cli.base import (
    EXIT_BAD_INPUT,
    EXIT_CODES_HELP,
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_NOT_ALLOWED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNREACHABLE,
    NO_HARD_EXIT,
    api_url,
    call_api,
    day_or_fail,
    exit_code_of,
    fail,
    fail_api,
    running_stack,
)

# Re-exported: the commands of the typer side import them from here.
__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CODES_HELP",
    "EXIT_CONFLICT",
    "EXIT_FAILURE",
    "EXIT_NOT_ALLOWED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "NO_HARD_EXIT",
    "api_url",
    "call_api",
    "day_or_fail",
    "exit_code_of",
    "fail",
    "fail_api",
    "running_stack",
]

# Only typer and the standard library at import: `daiban --help` must not pay for SQLAlchemy,
# Temporal or httpx. Each helper imports what it needs when it runs.
if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlmodel import Session

    from daiban.core.settings import Settings

app = typer.Typer(
    help="daiban: the workflow engine of the three-tier proxy service.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    # Locals may hold database URLs with passwords: never print them.
    pretty_exceptions_show_locals=False,
    # Plain help text: rich markup would swallow "[default: ...]" in option help.
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema and migrations.", no_args_is_help=True)
calendar_app = typer.Typer(
    help="Working-day calendar overrides: holidays and make-up workdays.", no_args_is_help=True
)
offices_app = typer.Typer(help="The offices of the cities served.", no_args_is_help=True)
export_app = typer.Typer(
    help="Records for the province's rating system (docs/export.md).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(calendar_app, name="calendar")
app.add_typer(offices_app, name="offices")
app.add_typer(export_app, name="export")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL [default: DAIBAN_DATABASE_URL].", show_default=False),
]
DateArgument = Annotated[str, typer.Argument(metavar="DATE", help="A date, YYYY-MM-DD.")]
NotifyOption = Annotated[
    bool,
    typer.Option(
        "--notify/--no-notify",
        help="Tell open requests to recompute their deadlines (needs Temporal).",
    ),
]
ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="DAIBAN_API_URL",
        help="Base URL of the daiban API [default: the running `daiban run`, else "
        "http://127.0.0.1:8000].",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="DAIBAN_TOKEN",
        help="Bearer token (make one with `daiban token`).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON (codes, not names) instead of text.")
]
RequestIdArgument = Annotated[str, typer.Argument(metavar="ID", help="The request id.")]
LimitOption = Annotated[int, typer.Option(min=1, max=200, help="At most this many rows.")]
CursorOption = Annotated[
    str | None, typer.Option(help="Continue a previous listing.", show_default=False)
]


# --- shared helpers ----------------------------------------------------------------------------


def load_settings() -> Settings:
    from pydantic import ValidationError

    from daiban.core.settings import get_settings

    try:
        return get_settings()
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"invalid settings: {'.'.join(map(str, first['loc']))}: {first['msg']}")


def url_or_default(url: str | None) -> str:
    """``--url``, else ``DAIBAN_DATABASE_URL``, else the database of the running ``daiban run``,
    else the settings' default."""
    if url:
        return url
    if "DAIBAN_DATABASE_URL" not in os.environ:
        stack = running_stack()
        if stack is not None:
            return stack.database_url
    return load_settings().database_url


@contextmanager
def open_engine(url: str | None) -> Iterator[Engine]:
    """An engine on a reachable database at the head revision; any database failure is one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from daiban.store.db import (
        DatabaseUnavailable,
        SchemaOutOfDate,
        check_schema,
        describe_error,
        make_engine,
    )

    try:
        engine = make_engine(url_or_default(url))
    except DatabaseUnavailable as error:
        fail(str(error))
    try:
        check_schema(engine)
        yield engine
    except (DatabaseUnavailable, SchemaOutOfDate) as error:
        fail(str(error))
    except SQLAlchemyError as error:
        fail(f"database error: {describe_error(error)}")
    finally:
        engine.dispose()


@contextmanager
def open_session(url: str | None) -> Iterator[Session]:
    """A session that commits when the block succeeds; a failure in it (``fail``) rolls back."""
    from daiban.store.db import session_scope

    with open_engine(url) as engine, session_scope(engine) as session:
        yield session
