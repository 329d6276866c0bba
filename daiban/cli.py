"""The ``daiban`` command line.

Layout: shared helpers first (database URL, a session on a migrated database, failing with one
line), then one section per sub-app with one function per command. Add a command to the section of
its sub-app, or add a sub-app with ``app.add_typer``.

Errors people can fix (a bad date, a bad file, an unreachable or unmigrated database) print one line
on stderr and exit non-zero, never a traceback: exit code 2 for bad input, 1 for everything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from daiban.db import (
    OVERRIDE_KINDS,
    DatabaseUnavailable,
    SchemaOutOfDate,
    check_schema,
    describe_error,
    display_url,
    list_calendar_years,
    list_overrides,
    load_calendar_year,
    make_engine,
    parse_calendar_year,
    parse_day,
    remove_override,
    session_scope,
    set_override,
    upgrade,
)
from daiban.settings import get_settings

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

app = typer.Typer(
    help="daiban: the workflow engine of the three-tier proxy service.",
    no_args_is_help=True,
    add_completion=False,
    # Locals may hold database URLs with passwords: never print them.
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema and migrations.", no_args_is_help=True)
calendar_app = typer.Typer(
    help="Working-day calendar overrides: holidays and make-up workdays.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(calendar_app, name="calendar")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL [default: DAIBAN_DATABASE_URL].", show_default=False),
]
DateArgument = Annotated[str, typer.Argument(metavar="DATE", help="A date, YYYY-MM-DD.")]


# --- shared helpers ----------------------------------------------------------------------------


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _database_url(url: str | None) -> str:
    if url:
        return url
    try:
        return get_settings().database_url
    except ValidationError as error:
        first = error.errors()[0]
        _fail(f"invalid settings: {'.'.join(map(str, first['loc']))}: {first['msg']}")


@contextmanager
def _session(url: str | None) -> Iterator[Session]:
    """A session on a reachable database at the head revision; commits when the block succeeds.

    Any database failure becomes one line; a ``typer.Exit`` from the block rolls back.
    """
    try:
        engine = make_engine(_database_url(url))
    except DatabaseUnavailable as error:
        _fail(str(error))
    try:
        check_schema(engine)
        with session_scope(engine) as session:
            yield session
    except (DatabaseUnavailable, SchemaOutOfDate) as error:
        _fail(str(error))
    except SQLAlchemyError as error:
        _fail(f"database error: {describe_error(error)}")
    finally:
        engine.dispose()


def _parse_day(value: str) -> date:
    try:
        return parse_day(value)
    except ValueError as error:
        _fail(str(error), EXIT_BAD_INPUT)


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))


# --- daiban db ---------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(url: UrlOption = None) -> None:
    """Migrate the database to the newest schema (safe to run again, and from several hosts)."""
    database_url = _database_url(url)
    try:
        revision = upgrade(database_url)
    except DatabaseUnavailable as error:
        _fail(str(error))
    except SQLAlchemyError as error:
        _fail(f"migration failed: {describe_error(error)}")
    typer.echo(f"database {display_url(database_url)} is at revision {revision} (head)")


# --- daiban calendar ---------------------------------------------------------------------------


@calendar_app.command("list")
def calendar_list(
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    url: UrlOption = None,
) -> None:
    """List the overrides and the years loaded completely."""
    with _session(url) as session:
        overrides = list_overrides(session, year)
        years = [y for y in list_calendar_years(session) if year is None or y.year == year]
    if as_json:
        _print_json(
            {
                "years": [
                    {"year": y.year, "note": y.note, "loaded_at": y.loaded_at.isoformat()}
                    for y in years
                ],
                "overrides": [
                    {
                        "day": o.day.isoformat(),
                        "kind": o.kind,
                        "note": o.note,
                        "updated_at": o.updated_at.isoformat(),
                    }
                    for o in overrides
                ],
            }
        )
        return
    console = Console()
    table = Table(title="Calendar overrides")
    for heading in ("date", "day", "kind", "note"):
        table.add_column(heading)
    for o in overrides:
        table.add_row(o.day.isoformat(), WEEKDAYS[o.day.weekday()], o.kind, o.note)
    console.print(table if overrides else "No overrides.")
    if years:
        loaded = Table(title="Years loaded completely")
        for heading in ("year", "loaded at (UTC)", "note"):
            loaded.add_column(heading)
        for y in years:
            loaded.add_row(str(y.year), y.loaded_at.strftime("%Y-%m-%d %H:%M"), y.note)
        console.print(loaded)
    else:
        console.print(
            "No year loaded completely: outside the package's data, dates are provisional."
        )


@calendar_app.command("add")
def calendar_add(
    day: DateArgument,
    kind: Annotated[str, typer.Option("--kind", help="holiday or workday.", show_default=False)],
    note: Annotated[str, typer.Option(help="Why, e.g. the notice it comes from.")] = "",
    url: UrlOption = None,
) -> None:
    """Make DATE a holiday or a working day (replaces its override, if any)."""
    parsed = _parse_day(day)
    if kind not in OVERRIDE_KINDS:
        _fail(f"--kind must be holiday or workday, not {kind!r}", EXIT_BAD_INPUT)
    with _session(url) as session:
        set_override(session, parsed, kind, note)
    typer.echo(f"{parsed.isoformat()} is now a {kind}")


@calendar_app.command("remove")
def calendar_remove(day: DateArgument, url: UrlOption = None) -> None:
    """Remove the override of DATE."""
    parsed = _parse_day(day)
    with _session(url) as session:
        removed = remove_override(session, parsed)
    if not removed:
        _fail(f"{parsed.isoformat()} has no override")
    typer.echo(f"removed the override of {parsed.isoformat()}")


@calendar_app.command("load-year")
def calendar_load_year(
    year: Annotated[int, typer.Argument(help="The year the file describes.", min=1900, max=2999)],
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON: {"holidays": ["YYYY-MM-DD", ...], "workdays": ["YYYY-MM-DD", ...]}.',
            dir_okay=False,
        ),
    ],
    note: Annotated[str, typer.Option(help="Source of the schedule [default: file name].")] = "",
    url: UrlOption = None,
) -> None:
    """Load a year's complete schedule: it replaces the year's overrides and marks it covered.

    All or nothing: a bad file or date writes nothing.
    """
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        _fail(f"cannot read {file}: {error.strerror or error}", EXIT_BAD_INPUT)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _fail(f"{file} is not valid JSON: {error}", EXIT_BAD_INPUT)
    try:
        holidays, workdays = parse_calendar_year(data, year)
    except ValueError as error:
        _fail(f"{file}: {error}", EXIT_BAD_INPUT)
    with _session(url) as session:
        load_calendar_year(session, year, holidays, workdays, note or f"loaded from {file.name}")
    typer.echo(
        f"{year}: loaded {len(holidays)} holidays and {len(workdays)} workdays; the year is covered"
    )


def main() -> None:
    """Entry point of the ``daiban`` console script."""
    app()
