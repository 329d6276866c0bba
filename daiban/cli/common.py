"""What the ``daiban`` commands share: the typer apps, the exit codes, the options, and helpers
that fail with one line (database URL, a session on a migrated database, calling the API)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from daiban.cli import client as api
from daiban.cli.client import JSON, ApiClient, ApiError, ApiUnreachable
from daiban.core.settings import Settings, get_settings
from daiban.store.calendar import parse_day
from daiban.store.db import (
    DatabaseUnavailable,
    SchemaOutOfDate,
    check_schema,
    describe_error,
    make_engine,
    session_scope,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
NO_HARD_EXIT = "DAIBAN_CLI_NO_HARD_EXIT"

app = typer.Typer(
    help="daiban: the workflow engine of the three-tier proxy service.",
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
app.add_typer(db_app, name="db")
app.add_typer(calendar_app, name="calendar")
app.add_typer(offices_app, name="offices")

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
    str, typer.Option("--api", envvar="DAIBAN_API_URL", help="Base URL of the daiban API.")
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
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
RequestIdArgument = Annotated[str, typer.Argument(metavar="ID", help="The request id.")]
LimitOption = Annotated[int, typer.Option(min=1, max=200, help="At most this many rows.")]
CursorOption = Annotated[
    str | None, typer.Option(help="Continue a previous listing.", show_default=False)
]


# --- shared helpers ----------------------------------------------------------------------------


def fail(message: str, code: int = EXIT_FAILURE, *more: str) -> NoReturn:
    """Print one line (and any ``more`` lines) on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    for line in more:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"invalid settings: {'.'.join(map(str, first['loc']))}: {first['msg']}")


def url_or_default(url: str | None) -> str:
    return url or load_settings().database_url


@contextmanager
def open_engine(url: str | None) -> Iterator[Engine]:
    """An engine on a reachable database at the head revision; any database failure is one line."""
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
    """A session that commits when the block succeeds; a ``typer.Exit`` in the block rolls back."""
    with open_engine(url) as engine, session_scope(engine) as session:
        yield session


def day_or_fail(value: str) -> date:
    try:
        return parse_day(value)
    except ValueError as error:
        fail(str(error), EXIT_BAD_INPUT)


def call_api(base_url: str, token: str | None, call: api.Call) -> JSON:
    """One API call; failures end the command with the exit code of their kind."""
    if not token:
        fail(
            "no token: pass --token or set DAIBAN_TOKEN (make one with `daiban token`)",
            EXIT_BAD_INPUT,
        )
    try:
        with ApiClient(base_url, token) as http:
            return http.send(call)
    except (ApiUnreachable, ApiError) as error:
        fail_api(error)


def fail_api(error: ApiUnreachable | ApiError) -> NoReturn:
    """Exit 3 when the API cannot be reached, 2 for a 4xx problem, 1 for anything else."""
    if isinstance(error, ApiUnreachable):
        fail(str(error), EXIT_UNREACHABLE)
    first, *more = error.lines()
    fail(first, EXIT_BAD_INPUT if 400 <= error.status < 500 else EXIT_FAILURE, *more)
