"""``daiban db``, ``daiban calendar``, ``daiban offices`` and ``daiban export``: work on the
database itself."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from daiban.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    DateArgument,
    NotifyOption,
    UrlOption,
    calendar_app,
    day_or_fail,
    db_app,
    export_app,
    fail,
    load_settings,
    offices_app,
    open_engine,
    open_session,
    running_stack,
    url_or_default,
)
from daiban.run import addresses

if TYPE_CHECKING:
    from daiban.domain.offices import Office

# What a command needs beyond typer is imported when it runs: `daiban --help` stays fast.

TemporalOption = Annotated[
    str | None,
    typer.Option(
        "--temporal-address",
        help="Temporal frontend HOST:PORT [default: DAIBAN_TEMPORAL_ADDRESS, else the running "
        "`daiban run`'s, else localhost:7233].",
        show_default=False,
    ),
]

# --- daiban db ---------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(url: UrlOption = None) -> None:
    """Migrate the database to the newest schema (safe to run again, and from several hosts)."""
    from sqlalchemy.exc import SQLAlchemyError

    from daiban.store.db import DatabaseUnavailable, describe_error, display_url, upgrade

    target = url_or_default(url)
    try:
        revision = upgrade(target, timezone=load_settings().timezone)
    except DatabaseUnavailable as error:
        fail(str(error))
    except SQLAlchemyError as error:
        fail(f"migration failed: {describe_error(error)}")
    typer.echo(f"database {display_url(target)} is at revision {revision} (head)")


@db_app.command("rebuild-stats")
def db_rebuild_stats(url: UrlOption = None) -> None:
    """Recompute the statistics rollup from the read model (after a bulk load of requests or a
    change of DAIBAN_TIMEZONE); writers wait while it runs."""
    from zoneinfo import ZoneInfo

    from daiban.store import rollup

    tz = ZoneInfo(load_settings().timezone)
    with open_session(url) as session:
        rows, requests = rollup.rebuild(session, tz)
    typer.echo(f"statistics rebuilt: {requests} requests in {rows} rows (day, township, city)")


@db_app.command("reseal")
def db_reseal(url: UrlOption = None) -> None:
    """Seal every stored resident under the newest codec key: after adding a key in front of
    DAIBAN_CODEC_KEYS (rotation), and once for rows written before residents were sealed. Runs
    in batches beside a live system; an older key may leave the settings once this is done and
    Temporal's retention has passed."""
    from daiban.core.sealed import Sealer
    from daiban.store import residents
    from daiban.store.db import session_scope

    sealer = Sealer.from_settings(load_settings())
    total = 0
    after: str | None = ""
    with open_engine(url) as engine:
        while after is not None:
            with session_scope(engine) as session:
                done, after = residents.reseal(session, sealer, after)
            total += done
    typer.echo(f"residents sealed under key {sealer.key_id}: {total} rows rewritten")


# --- daiban calendar ---------------------------------------------------------------------------


@calendar_app.command("list")
def calendar_list(
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    url: UrlOption = None,
) -> None:
    """List the overrides and the years loaded completely."""
    from daiban.cli import render
    from daiban.store.calendar import list_calendar_years, list_overrides

    with open_session(url) as session:
        overrides = list_overrides(session, year)
        years = [y for y in list_calendar_years(session) if year is None or y.year == year]
    render.print_calendar(overrides, years, as_json)


@calendar_app.command("add")
def calendar_add(
    day: DateArgument,
    kind: Annotated[str, typer.Option("--kind", help="holiday or workday.", show_default=False)],
    note: Annotated[str, typer.Option(help="Why, e.g. the notice it comes from.")] = "",
    url: UrlOption = None,
    notify: NotifyOption = True,
    temporal_address: TemporalOption = None,
) -> None:
    """Make DATE a holiday or a working day (replaces its override, if any)."""
    from daiban.store.calendar import OVERRIDE_KINDS, set_override

    parsed = day_or_fail(day)
    if kind not in OVERRIDE_KINDS:
        fail(f"--kind must be holiday or workday, not {kind!r}", EXIT_BAD_INPUT)
    with open_session(url) as session:
        set_override(session, parsed, kind, note)
    typer.echo(f"{parsed.isoformat()} is now a {kind}")
    _recompute_running(url, notify, temporal_address)


@calendar_app.command("remove")
def calendar_remove(
    day: DateArgument,
    url: UrlOption = None,
    notify: NotifyOption = True,
    temporal_address: TemporalOption = None,
) -> None:
    """Remove the override of DATE."""
    from daiban.store.calendar import remove_override

    parsed = day_or_fail(day)
    with open_session(url) as session:
        removed = remove_override(session, parsed)
    if not removed:
        fail(f"{parsed.isoformat()} has no override")
    typer.echo(f"removed the override of {parsed.isoformat()}")
    _recompute_running(url, notify, temporal_address)


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
    notify: NotifyOption = True,
    temporal_address: TemporalOption = None,
) -> None:
    """Load a year's complete schedule: it replaces the year's overrides and marks it covered.

    All or nothing: a bad file or date writes nothing.
    """
    import json

    from daiban.store.calendar import load_calendar_year, parse_calendar_year

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}", EXIT_BAD_INPUT)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"{file} is not valid JSON: {error}", EXIT_BAD_INPUT)
    try:
        holidays, workdays = parse_calendar_year(data, year)
    except ValueError as error:
        fail(f"{file}: {error}", EXIT_BAD_INPUT)
    with open_session(url) as session:
        load_calendar_year(session, year, holidays, workdays, note or f"loaded from {file.name}")
    typer.echo(
        f"{year}: loaded {len(holidays)} holidays and {len(workdays)} workdays; the year is covered"
    )
    _recompute_running(url, notify, temporal_address)


@calendar_app.command("recompute")
def calendar_recompute(url: UrlOption = None, temporal_address: TemporalOption = None) -> None:
    """Tell every open request to compute its deadlines again from the current calendar."""
    _recompute_running(url, True, temporal_address)


def _recompute_running(url: str | None, notify: bool, temporal_address: str | None) -> None:
    """The calendar data changed: running requests recompute their clocks (provisional
    deadlines become final). The database change stands even if Temporal is unreachable.

    Temporal is the one given (``--temporal-address``, ``DAIBAN_TEMPORAL_ADDRESS``), else that of
    the running ``daiban run``. With neither, and a local stack that is stopped (its var directory
    exists), the change is passed on at the stack's next start: that is the normal case on a
    developer's machine, not an error.
    """
    import asyncio

    from daiban.core.temporal import connect
    from daiban.store.recompute import signal_open_requests

    if not notify:
        return
    settings = load_settings()
    stack = running_stack()
    given = temporal_address or os.environ.get("DAIBAN_TEMPORAL_ADDRESS")
    if not given and stack is None and (addresses.var_dir() / "temporal.db").exists():
        addresses.mark_recompute_pending(addresses.var_dir())
        typer.echo(
            "daiban run is not running: open requests will recompute their deadlines "
            "when it next starts"
        )
        return
    if given:
        settings = settings.model_copy(update={"temporal_address": given})
    elif stack is not None:
        settings = settings.model_copy(
            update={
                "temporal_address": stack.temporal_address,
                "temporal_namespace": stack.namespace,
            }
        )

    async def signal_all() -> int:
        client = await connect(settings)
        with open_engine(url) as engine:
            return await signal_open_requests(client, engine)

    try:
        count = asyncio.run(signal_all())
    except RuntimeError as error:  # the SDK reports a failed connection as RuntimeError
        fail(
            f"the calendar is saved, but running requests were not told: {error}",
            EXIT_FAILURE,
            "run `daiban calendar recompute` once Temporal is reachable",
        )
    typer.echo(f"{count} open requests recompute their deadlines")


# --- daiban offices ----------------------------------------------------------------------------


@offices_app.command("load")
def offices_load(
    file: Annotated[
        Path | None,
        typer.Argument(
            help='JSON: {"offices": [{"code", "name", "tier", "parent", "urban"}, ...]}, '
            "of one city or several [default: the demo city].",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Load offices into the database by code (safe to run again).

    All or nothing: a file whose offices, with those already loaded, do not form a tree of
    cities, townships, community service centers and villages writes nothing.
    """
    from daiban.domain.offices import InvalidOfficeTree, demo_offices
    from daiban.store.db import load_offices

    offices = demo_offices() if file is None else _offices_file(file)
    with open_engine(url) as engine:
        try:
            changed = load_offices(engine, offices)
        except InvalidOfficeTree as error:
            fail(f"{file or 'demo offices'}: {error}", EXIT_BAD_INPUT)
    cities = sum(office.tier == "city" for office in offices)
    plural = "city" if cities == 1 else "cities"
    source = "the demo city" if file is None else f"{cities} {plural} in {file.name}"
    typer.echo(f"{len(offices)} offices of {source}; {changed} added or changed")


def _offices_file(file: Path) -> list[Office]:
    import json

    from daiban.store.db import parse_offices

    try:
        return parse_offices(json.loads(file.read_text(encoding="utf-8")))
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}", EXIT_BAD_INPUT)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"{file} is not valid JSON: {error}", EXIT_BAD_INPUT)
    except ValueError as error:
        fail(f"{file}: {error}", EXIT_BAD_INPUT)


# --- daiban export -----------------------------------------------------------------------------


@export_app.command("status")
def export_status(url: UrlOption = None) -> None:
    """Records for the province by state: pending (the backlog), sent, failed (given up after
    DAIBAN_EXPORT_MAX_ATTEMPTS; `daiban export retry` queues them again)."""
    from daiban.store.exports import export_counts

    settings = load_settings()
    with open_session(url) as session:
        counts = export_counts(session)
    target = {"file": f"file {settings.export_file}", "webhook": "webhook"}.get(
        settings.export, "off (records wait)"
    )
    typer.echo(f"export: {target}")
    typer.echo(" ".join(f"{status} {n}" for status, n in counts.items()))


@export_app.command("retry")
def export_retry(url: UrlOption = None) -> None:
    """Queue the failed records again, their attempts counted afresh (the receiver keeps one
    record per key, so a record it had already is not doubled)."""
    from daiban.store.exports import retry_failed

    with open_session(url) as session:
        n = retry_failed(session)
    typer.echo(f"{n} failed records queued again")


@export_app.command("resend")
def export_resend(
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="The request number.")],
    url: UrlOption = None,
) -> None:
    """Send a request's records again, under their keys (the province lost them)."""
    from daiban.store.exports import resend

    with open_session(url) as session:
        n = resend(session, number)
    if n == 0:
        fail(f"no records of request {number}", EXIT_NOT_FOUND)
    typer.echo(f"{n} records of {number} queued again")


@export_app.command("backfill")
def export_backfill(url: UrlOption = None) -> None:
    """Queue the records of requests that ended or were rated before the export existed (safe to
    run again; runs in batches beside a live system)."""
    from daiban.store.db import session_scope
    from daiban.store.exports import backfill

    total = 0
    after: str | None = ""
    with open_engine(url) as engine:
        while after is not None:
            with session_scope(engine) as session:
                queued, after = backfill(session, after)
            total += queued
    typer.echo(f"{total} records queued")
