"""What the ``daiban`` commands share: the typer apps, the exit codes, the options, and helpers
that fail with one line (database URL, a session on a migrated database, calling the API)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from daiban.run.addresses import DEFAULT_API_URL, StackAddresses, running

# Only typer and the standard library at import: `daiban --help` must not pay for SQLAlchemy,
# Temporal or httpx. Each helper imports what it needs when it runs.
if TYPE_CHECKING:
    from datetime import date

    from sqlalchemy import Engine
    from sqlmodel import Session

    from daiban.cli.client import JSON, ApiError, ApiUnreachable, Call
    from daiban.core.settings import Settings

# The exit codes scripts can trust; `daiban --help` lists them (EXIT_CODES_HELP).
EXIT_OK = 0
EXIT_FAILURE = 1  # the server failed (5xx), or the database or the stack did
EXIT_BAD_INPUT = 2  # bad input, found here or by the API (400, 422, other 4xx)
EXIT_UNREACHABLE = 3  # no connection to the API
EXIT_NOT_ALLOWED = 4  # 401 no or bad token, 403 the role may never do this
EXIT_NOT_FOUND = 5  # 404: no such request, or not in the token's scope
EXIT_CONFLICT = 6  # 409: not allowed in the request's stage now
EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 server or database failure; 2 bad input (422, 400); 3 the API cannot "
    "be reached; 4 no or bad token (401) or not allowed for the role (403); 5 not found or not "
    "in scope (404); 6 not allowed in the request's stage now (409)."
)
NO_HARD_EXIT = "DAIBAN_CLI_NO_HARD_EXIT"

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


def fail(message: str, code: int = EXIT_FAILURE, *more: str) -> NoReturn:
    """Print one line (and any ``more`` lines) on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    for line in more:
        typer.echo(line, err=True)
    raise typer.Exit(code)


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


def running_stack() -> StackAddresses | None:
    return running()


def api_url(given: str | None) -> str:
    """``--api`` (or ``DAIBAN_API_URL``), else the running ``daiban run``'s, else the default."""
    if given:
        return given.rstrip("/")
    stack = running_stack()
    return stack.api_url if stack is not None else DEFAULT_API_URL


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
    """A session that commits when the block succeeds; a ``typer.Exit`` in the block rolls back."""
    from daiban.store.db import session_scope

    with open_engine(url) as engine, session_scope(engine) as session:
        yield session


def day_or_fail(value: str) -> date:
    from daiban.store.calendar import parse_day

    try:
        return parse_day(value)
    except ValueError as error:
        fail(str(error), EXIT_BAD_INPUT)


def call_api(base_url: str | None, token: str | None, call: Call) -> JSON:
    """One API call; failures end the command with the exit code of their kind."""
    from daiban.cli.client import ApiClient, ApiError, ApiUnreachable

    if not token:
        fail(
            "no token: pass --token or set DAIBAN_TOKEN (make one with `daiban token`)",
            EXIT_BAD_INPUT,
        )
    try:
        with ApiClient(api_url(base_url), token) as http:
            return http.send(call)
    except (ApiUnreachable, ApiError) as error:
        fail_api(error, given=base_url)


def exit_code_of(status: int) -> int:
    """The exit code of an API error status (see EXIT_CODES_HELP)."""
    if status in (401, 403):
        return EXIT_NOT_ALLOWED
    if status == 404:
        return EXIT_NOT_FOUND
    if status == 409:
        return EXIT_CONFLICT
    return EXIT_BAD_INPUT if 400 <= status < 500 else EXIT_FAILURE


def fail_api(error: ApiUnreachable | ApiError, given: str | None = "") -> NoReturn:
    """Exit with the code of the error's kind; an unreachable API gets a hint on where to look."""
    from daiban.cli.client import ApiUnreachable

    if isinstance(error, ApiUnreachable):
        hint: tuple[str, ...] = ()
        if not given:
            hint = (
                "is the stack running? `daiban run` (or `make run`) records its address for "
                "these commands; elsewhere pass --api URL or set DAIBAN_API_URL",
            )
        fail(str(error), EXIT_UNREACHABLE, *hint)
    first, *more = error.lines()
    fail(first, exit_code_of(error.status), *more)
