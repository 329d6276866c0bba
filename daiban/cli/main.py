"""The ``daiban`` command line.

Layout: shared helpers first (database URL, a session on a migrated database, failing with one
line, calling the API), then one section per group of commands: the stack (``run``, ``worker``,
``serve``, ``simulate``), the API client commands (``token``, ``submit``, ``show`` …), and one
section per sub-app. Add a command to its section, or add a sub-app with ``app.add_typer``.
What people see (tables, panels, ``--json``) is drawn by ``daiban/cli/render.py``.

Exit codes scripts can trust: 0 ok; 1 a server or API error (5xx, a failed database or stack);
2 bad input, locally or from the API (4xx; the problem's title, detail and field errors in a few
lines); 3 the API cannot be reached. Errors people can fix print on stderr, never a traceback.

Every run of the console script leaves through ``_exit``, which flushes and calls ``os._exit``:
a process that used a Temporal client can abort while Python finalizes (shared/ENVIRONMENT.md).
typer's CliRunner calls ``app`` directly and never gets there; ``DAIBAN_CLI_NO_HARD_EXIT=1`` turns
the hard exit into a plain ``SystemExit`` for tests that call ``main``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from daiban.cli import client as api
from daiban.cli import render
from daiban.cli.client import DEFAULT_API_URL, JSON, ApiClient, ApiError, ApiUnreachable
from daiban.cli.simulate import Report, SimulationOptions
from daiban.cli.simulate import render as render_report
from daiban.cli.simulate import simulate as play
from daiban.core.settings import Settings, get_settings
from daiban.core.temporal import connect
from daiban.domain.offices import demo_offices
from daiban.domain.privacy import check_id_number, check_name, check_phone
from daiban.http.auth import mint_token
from daiban.run.stack import Stack, StackConfig
from daiban.run.startup import check_configuration, clear_startup_errors
from daiban.store import rollup
from daiban.store.db import (
    OVERRIDE_KINDS,
    DatabaseUnavailable,
    SchemaOutOfDate,
    check_schema,
    describe_error,
    display_url,
    list_calendar_years,
    list_overrides,
    load_calendar_year,
    load_offices,
    make_engine,
    parse_calendar_year,
    parse_day,
    remove_override,
    session_scope,
    set_override,
    upgrade,
)
from daiban.store.recompute import signal_open_requests
from models.actions import ACTIONS, field_errors
from models.contracts import ActionCommand, Actor

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
offices_app = typer.Typer(help="The offices of the city.", no_args_is_help=True)
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


def _fail(message: str, code: int = EXIT_FAILURE, *more: str) -> NoReturn:
    """Print one line (and any ``more`` lines) on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    for line in more:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        first = error.errors()[0]
        _fail(f"invalid settings: {'.'.join(map(str, first['loc']))}: {first['msg']}")


def _database_url(url: str | None) -> str:
    return url or _settings().database_url


@contextmanager
def _engine(url: str | None) -> Iterator[Engine]:
    """An engine on a reachable database at the head revision; any database failure is one line."""
    try:
        engine = make_engine(_database_url(url))
    except DatabaseUnavailable as error:
        _fail(str(error))
    try:
        check_schema(engine)
        yield engine
    except (DatabaseUnavailable, SchemaOutOfDate) as error:
        _fail(str(error))
    except SQLAlchemyError as error:
        _fail(f"database error: {describe_error(error)}")
    finally:
        engine.dispose()


@contextmanager
def _session(url: str | None) -> Iterator[Session]:
    """A session that commits when the block succeeds; a ``typer.Exit`` in the block rolls back."""
    with _engine(url) as engine, session_scope(engine) as session:
        yield session


def _parse_day(value: str) -> date:
    try:
        return parse_day(value)
    except ValueError as error:
        _fail(str(error), EXIT_BAD_INPUT)


def _call(base_url: str, token: str | None, call: api.Call) -> JSON:
    """One API call; failures end the command with the exit code of their kind."""
    if not token:
        _fail(
            "no token: pass --token or set DAIBAN_TOKEN (make one with `daiban token`)",
            EXIT_BAD_INPUT,
        )
    try:
        with ApiClient(base_url, token) as http:
            return http.send(call)
    except (ApiUnreachable, ApiError) as error:
        _fail_api(error)


def _fail_api(error: ApiUnreachable | ApiError) -> NoReturn:
    """Exit 3 when the API cannot be reached, 2 for a 4xx problem, 1 for anything else."""
    if isinstance(error, ApiUnreachable):
        _fail(str(error), EXIT_UNREACHABLE)
    first, *more = error.lines()
    _fail(first, EXIT_BAD_INPUT if 400 <= error.status < 500 else EXIT_FAILURE, *more)


# --- daiban run, worker, serve, simulate -------------------------------------------------------
# The worker module and uvicorn are imported when used: only their own commands need them.


@app.command()
def run(
    temporal_address: Annotated[
        str | None,
        typer.Option(
            help="Use this Temporal cluster (HOST:PORT) instead of starting the dev server.",
            show_default=False,
        ),
    ] = None,
    no_temporal: Annotated[
        bool,
        typer.Option(
            "--no-temporal",
            help="Do not start the dev server: use the cluster at DAIBAN_TEMPORAL_ADDRESS.",
        ),
    ] = False,
    temporal_port: Annotated[int, typer.Option(help="Port of the dev server.")] = 7233,
    ui_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the Temporal UI [default: temporal port + 1000].", show_default=False
        ),
    ] = None,
    api_host: Annotated[
        str | None, typer.Option(help="[default: DAIBAN_API_HOST]", show_default=False)
    ] = None,
    api_port: Annotated[
        int | None, typer.Option(help="[default: DAIBAN_API_PORT]", show_default=False)
    ] = None,
    var_dir: Annotated[
        Path, typer.Option(help="Directory of temporal.db and the logs (log/).", file_okay=False)
    ] = Path("var"),
    stop_timeout: Annotated[
        float, typer.Option(help="Seconds each child gets to stop before SIGKILL.", min=0)
    ] = 20.0,
    url: UrlOption = None,
) -> None:
    """Run the whole system: Temporal dev server, migrations, demo offices, worker and API.

    Stop with Ctrl-C; the next run continues with the same data (var/temporal.db, the database).
    """
    settings = _settings()
    with clear_startup_errors("daiban run"):
        check_configuration(settings)
    external = temporal_address or (settings.temporal_address if no_temporal else None)
    config = StackConfig(
        var_dir=var_dir,
        database_url=_database_url(url),
        namespace=settings.temporal_namespace,
        external_temporal=external,
        temporal_port=temporal_port,
        ui_port=ui_port or temporal_port + 1000,
        api_host=api_host or settings.api_host,
        api_port=api_port or settings.api_port,
        stop_timeout=stop_timeout,
    )
    raise typer.Exit(Stack(config, settings, Console(soft_wrap=True)).run())


@app.command()
def worker() -> None:
    """Run the Temporal worker (stops gracefully on SIGTERM or Ctrl-C)."""
    import worker as worker_module

    worker_module.main()


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="[default: DAIBAN_API_HOST]", show_default=False)
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="[default: DAIBAN_API_PORT]", show_default=False)
    ] = None,
) -> None:
    """Serve the HTTP API (uvicorn api:app)."""
    import uvicorn

    from daiban.core.logs import configure_logging

    settings = _settings()
    with clear_startup_errors("api"):
        check_configuration(settings)
    configure_logging(settings.log_level)
    # log_config=None: uvicorn's records go through our structlog pipeline, not its own handlers.
    uvicorn.run(
        "api:app", host=host or settings.api_host, port=port or settings.api_port, log_config=None
    )


@app.command()
def simulate(
    days: Annotated[int, typer.Option(min=1, help="Simulated working days.")] = 3,
    rate: Annotated[float, typer.Option(min=0, help="Requests per village per day.")] = 0.05,
    villages: Annotated[
        int | None,
        typer.Option(min=1, help="Only this many villages (drawn at random).", show_default=False),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the draws.", show_default=False)] = None,
    speed: Annotated[
        float, typer.Option(min=0.01, help="Time compression: a day lasts 20/SPEED seconds.")
    ] = 1.0,
    late_fraction: Annotated[
        float, typer.Option(min=0, max=1, help="Fraction left untouched at a stage, to escalate.")
    ] = 0.05,
    concurrency: Annotated[int, typer.Option(min=1, help="API calls in flight at once.")] = 8,
    base_url: ApiOption = DEFAULT_API_URL,
    as_json: JsonOption = False,
) -> None:
    """Play realistic traffic of the demo city through the API, then compare with /v1/stats.

    Tokens are minted locally with the settings' secret. Exit code 1 when a request failed or the
    counts differ from the API's (other traffic during the run makes them differ too).
    """
    options = SimulationOptions(
        days=days,
        rate=rate,
        villages=villages,
        seed=seed,
        speed=speed,
        late_fraction=late_fraction,
        concurrency=concurrency,
    )
    settings = _settings()
    console = Console(stderr=as_json)

    async def main() -> Report:
        async with api.AsyncApiClient(base_url, max_connections=concurrency) as http:
            return await play(http, settings, options, console)

    try:
        report = asyncio.run(main())
    except (ApiUnreachable, ApiError) as error:
        _fail_api(error)
    if as_json:
        render.print_json(report.to_json())
    else:
        render_report(console, report)
    if report.errors or not report.matches:
        raise typer.Exit(EXIT_FAILURE)


# --- the API: token, submit, show, act, rate, list, queue, stats --------------------------------


@app.command()
def token(
    role: Annotated[
        str,
        typer.Option(
            help="agent, township_staff, city_staff, supervisor or admin.", show_default=False
        ),
    ],
    office: Annotated[
        str, typer.Option(help="The office code the role works at.", show_default=False)
    ],
    sub: Annotated[
        str | None, typer.Option(help="Staff id [default: ROLE-OFFICE].", show_default=False)
    ] = None,
    ttl: Annotated[
        int | None,
        typer.Option(min=1, help="Seconds [default: DAIBAN_JWT_TTL_SECONDS].", show_default=False),
    ] = None,
) -> None:
    """Mint a development token (HS256 with DAIBAN_JWT_SECRET) and print it."""
    try:
        value = mint_token(_settings(), sub or f"{role}-{office}", role, office, ttl)
    except ValueError as error:
        _fail(str(error), EXIT_BAD_INPUT)
    typer.echo(value)


@app.command()
def submit(
    item: Annotated[str, typer.Option(help="Service item code, e.g. dibao.", show_default=False)],
    name: Annotated[str, typer.Option(help="The resident's name.", show_default=False)],
    id_number: Annotated[str, typer.Option(help="18-character ID number.", show_default=False)],
    phone: Annotated[str, typer.Option(help="Mobile number.", show_default=False)],
    material: Annotated[
        list[str] | None,
        typer.Option(
            help="A material handed in (repeat) [default: all the item lists].", show_default=False
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(show_default=False)] = None,
    channel: Annotated[str, typer.Option(help="proxy_room, hotline or web.")] = "proxy_room",
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Resubmitting with it never makes a second request.", show_default=False),
    ] = None,
    base_url: ApiOption = DEFAULT_API_URL,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a resident's request at the agent's village (agent token)."""
    problems = []
    for field, check, value in (
        ("name", check_name, name),
        ("id_number", check_id_number, id_number),
        ("phone", check_phone, phone),
    ):
        try:
            check(value)
        except ValueError as error:
            problems.append(f"  resident.{field}: {error}")
    if problems:
        _fail("invalid resident", EXIT_BAD_INPUT, *problems)
    materials = material
    if materials is None:
        catalog = _call(base_url, bearer, api.catalog())
        known = {i["code"]: i for i in catalog["items"]}
        materials = list(known[item]["materials"]) if item in known else []
    resident = {"name": name, "id_number": id_number, "phone": phone}
    call = api.submit(item, resident, materials, note, channel, idempotency_key)
    answer = _call(base_url, bearer, call)
    render.emit(answer, as_json, render.print_change)


@app.command()
def show(
    request_id: RequestIdArgument,
    base_url: ApiOption = DEFAULT_API_URL,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The full live state of one request."""
    answer = _call(base_url, bearer, api.get_request(request_id))
    render.emit(answer, as_json, render.print_request)


@app.command()
def act(
    request_id: RequestIdArgument,
    action: Annotated[
        str, typer.Argument(help="handoff, accept, forward, approve … (see API.md).")
    ],
    note: Annotated[str | None, typer.Option(help="Reason or remark.", show_default=False)] = None,
    missing: Annotated[
        list[str] | None, typer.Option(help="A missing material (repeat).", show_default=False)
    ] = None,
    due: Annotated[
        str | None, typer.Option(help="Gap due date, YYYY-MM-DD.", show_default=False)
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Pause reason.", show_default=False)] = None,
    days: Annotated[
        int | None, typer.Option(min=1, help="Extension days.", show_default=False)
    ] = None,
    upheld: Annotated[
        bool | None, typer.Option("--upheld/--rejected", help="Appeal review.", show_default=False)
    ] = None,
    base_url: ApiOption = DEFAULT_API_URL,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take one action on a request; required fields are checked before anything is sent."""
    if action not in ACTIONS:
        _fail(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}", EXIT_BAD_INPUT)
    fields: dict[str, Any] = {
        "note": note,
        "missing_materials": missing,
        "due": _parse_day(due) if due else None,
        "reason": reason,
        "days": days,
        "upheld": upheld,
    }
    # The workflow's own field rules, so that a missing --note fails here in one line.
    errors = field_errors(ActionCommand(action, Actor("cli", "cli", "cli"), **fields))
    if errors:
        lines = [f"  {e['field']}: {e['message']}" for e in errors]
        _fail(f"invalid {action}", EXIT_BAD_INPUT, *lines)
    if fields["due"] is not None:
        fields["due"] = fields["due"].isoformat()
    answer = _call(base_url, bearer, api.act(request_id, action, **fields))
    render.emit(answer, as_json, render.print_change)


@app.command()
def rate(
    request_id: RequestIdArgument,
    score: Annotated[
        int, typer.Argument(min=1, max=5, help="5 very satisfied … 1 very dissatisfied.")
    ],
    comment: Annotated[str | None, typer.Option(show_default=False)] = None,
    base_url: ApiOption = DEFAULT_API_URL,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rate a request on the resident's behalf (1 or 2 opens a rectification)."""
    answer = _call(base_url, bearer, api.rate(request_id, score, comment))
    render.emit(answer, as_json, render.print_change)


@app.command("list")
def list_requests(
    stage: Annotated[str | None, typer.Option(show_default=False)] = None,
    township: Annotated[str | None, typer.Option(show_default=False)] = None,
    office: Annotated[
        str | None, typer.Option(help="Responsible office.", show_default=False)
    ] = None,
    item: Annotated[str | None, typer.Option(show_default=False)] = None,
    overdue: Annotated[
        str | None,
        typer.Option(help="reminder, yellow, red, statutory or any.", show_default=False),
    ] = None,
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    base_url: ApiOption = DEFAULT_API_URL,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests in the token's scope, newest first."""
    call = api.list_requests(
        stage=stage,
        office=office,
        township=township,
        item=item,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    )
    page = _call(base_url, bearer, call)
    render.emit(page, as_json, render.print_page, "Requests")


@app.command()
def queue(
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    base_url: ApiOption = DEFAULT_API_URL,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests waiting on the staff token's office, earliest deadline first."""
    page = _call(base_url, bearer, api.queue(limit, cursor))
    render.emit(page, as_json, render.print_page, "Work queue")


@app.command()
def stats(
    township: Annotated[str | None, typer.Option(show_default=False)] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First creation date.", show_default=False)
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last creation date.", show_default=False)
    ] = None,
    base_url: ApiOption = DEFAULT_API_URL,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per-township statistics (supervisor token)."""
    first = _parse_day(date_from).isoformat() if date_from else None
    last = _parse_day(date_to).isoformat() if date_to else None
    answer = _call(base_url, bearer, api.stats(township, first, last))
    render.emit(answer, as_json, render.print_stats)


# --- daiban db ---------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(url: UrlOption = None) -> None:
    """Migrate the database to the newest schema (safe to run again, and from several hosts)."""
    database_url = _database_url(url)
    try:
        revision = upgrade(database_url, timezone=_settings().timezone)
    except DatabaseUnavailable as error:
        _fail(str(error))
    except SQLAlchemyError as error:
        _fail(f"migration failed: {describe_error(error)}")
    typer.echo(f"database {display_url(database_url)} is at revision {revision} (head)")


@db_app.command("rebuild-stats")
def db_rebuild_stats(url: UrlOption = None) -> None:
    """Recompute the statistics rollup from the read model (after a bulk load of requests or a
    change of DAIBAN_TIMEZONE); writers wait while it runs."""
    tz = ZoneInfo(_settings().timezone)
    with _session(url) as session:
        rows, requests = rollup.rebuild(session, tz)
    typer.echo(f"statistics rebuilt: {requests} requests in {rows} rows (day, township, city)")


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
    render.print_calendar(overrides, years, as_json)


@calendar_app.command("add")
def calendar_add(
    day: DateArgument,
    kind: Annotated[str, typer.Option("--kind", help="holiday or workday.", show_default=False)],
    note: Annotated[str, typer.Option(help="Why, e.g. the notice it comes from.")] = "",
    url: UrlOption = None,
    notify: NotifyOption = True,
) -> None:
    """Make DATE a holiday or a working day (replaces its override, if any)."""
    parsed = _parse_day(day)
    if kind not in OVERRIDE_KINDS:
        _fail(f"--kind must be holiday or workday, not {kind!r}", EXIT_BAD_INPUT)
    with _session(url) as session:
        set_override(session, parsed, kind, note)
    typer.echo(f"{parsed.isoformat()} is now a {kind}")
    _recompute_running(url, notify)


@calendar_app.command("remove")
def calendar_remove(day: DateArgument, url: UrlOption = None, notify: NotifyOption = True) -> None:
    """Remove the override of DATE."""
    parsed = _parse_day(day)
    with _session(url) as session:
        removed = remove_override(session, parsed)
    if not removed:
        _fail(f"{parsed.isoformat()} has no override")
    typer.echo(f"removed the override of {parsed.isoformat()}")
    _recompute_running(url, notify)


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
    _recompute_running(url, notify)


@calendar_app.command("recompute")
def calendar_recompute(url: UrlOption = None) -> None:
    """Tell every open request to compute its deadlines again from the current calendar."""
    _recompute_running(url, True)


def _recompute_running(url: str | None, notify: bool) -> None:
    """The calendar data changed: running requests recompute their clocks (provisional
    deadlines become final). The database change stands even if Temporal is unreachable."""
    if not notify:
        return
    settings = _settings()

    async def signal_all() -> int:
        client = await connect(settings)
        with _engine(url) as engine:
            return await signal_open_requests(client, engine)

    try:
        count = asyncio.run(signal_all())
    except RuntimeError as error:  # the SDK reports a failed connection as RuntimeError
        _fail(
            f"the calendar is saved, but running requests were not told: {error}",
            EXIT_FAILURE,
            "run `daiban calendar recompute` once Temporal is reachable",
        )
    typer.echo(f"{count} open requests recompute their deadlines")


# --- daiban offices ----------------------------------------------------------------------------


@offices_app.command("load")
def offices_load(url: UrlOption = None) -> None:
    """Load the demo city's offices into the database (safe to run again)."""
    offices = demo_offices()
    with _engine(url) as engine:
        changed = load_offices(engine, offices)
    typer.echo(f"{len(offices)} offices of the demo city; {changed} added or changed")


# --- the way out -------------------------------------------------------------------------------


def _exit(code: int) -> NoReturn:
    """Flush and leave without interpreter teardown (see the module docstring)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.environ.get(NO_HARD_EXIT) == "1":
        raise SystemExit(code)
    os._exit(code)


def main() -> None:
    """Entry point of the ``daiban`` console script: every command leaves through ``_exit``."""
    try:
        app()  # standalone mode: always ends by raising SystemExit
    except SystemExit as done:
        code = done.code
        _exit(code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_FAILURE))
    except Exception:
        sys.excepthook(*sys.exc_info())  # typer's hook: a readable traceback for a real bug
        _exit(EXIT_FAILURE)
    _exit(EXIT_OK)


if __name__ == "__main__":
    main()
