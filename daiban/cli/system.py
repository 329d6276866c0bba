"""``daiban run``, ``worker``, ``serve`` and ``simulate``: the system's processes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from daiban.cli.common import (
    EXIT_FAILURE,
    ApiOption,
    JsonOption,
    UrlOption,
    api_url,
    app,
    fail,
    fail_api,
    load_settings,
    url_or_default,
)
from daiban.run.addresses import var_dir as default_var_dir
from daiban.run.priority import BACKGROUND_NICENESS

if TYPE_CHECKING:
    from rich.console import Console

    from daiban.cli.client import AsyncApiClient
    from daiban.cli.simreport import Report
    from daiban.cli.simulate import SimulationOptions
    from daiban.core.settings import Settings

# --- daiban run, worker, serve, simulate -------------------------------------------------------
# What each command needs is imported when it runs: `daiban --help` stays fast.


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
        Path | None,
        typer.Option(
            help="Directory of temporal.db, the logs (log/) and the stack's addresses "
            "[default: DAIBAN_VAR_DIR, else var].",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    stop_timeout: Annotated[
        float, typer.Option(help="Seconds each child gets to stop before SIGKILL.", min=0)
    ] = 20.0,
    background_niceness: Annotated[
        int,
        typer.Option(
            help="Niceness added to the worker and the Temporal dev server, so that on a busy "
            "machine the API answers first; 0 runs them all alike.",
            min=0,
            max=19,
        ),
    ] = BACKGROUND_NICENESS,
    url: UrlOption = None,
) -> None:
    """Run the whole system: Temporal dev server, migrations, demo offices, worker and API.

    Stop with Ctrl-C; the next run continues with the same data (var/temporal.db, the database).
    """
    from rich.console import Console

    from daiban.run.stack import Stack, StackConfig
    from daiban.run.startup import check_configuration, clear_startup_errors

    settings = load_settings()
    with clear_startup_errors("daiban run"):
        check_configuration(settings)
    external = temporal_address or (settings.temporal_address if no_temporal else None)
    config = StackConfig(
        var_dir=var_dir or default_var_dir(),
        database_url=url_or_default(url),
        namespace=settings.temporal_namespace,
        external_temporal=external,
        temporal_port=temporal_port,
        ui_port=ui_port or temporal_port + 1000,
        api_host=api_host or settings.api_host,
        api_port=api_port or settings.api_port,
        stop_timeout=stop_timeout,
        background_niceness=background_niceness,
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
    from daiban.http.wire import PROTOCOL
    from daiban.run.startup import check_configuration, clear_startup_errors

    settings = load_settings()
    with clear_startup_errors("api"):
        check_configuration(settings)
    configure_logging(settings.log_level)
    # log_config=None: uvicorn's records go through our structlog pipeline, not its own handlers.
    # access_log=False: the API's RequestContext writes the one line per request (with the request
    # id and the route template); uvicorn's access line would be a second one.
    uvicorn.run(
        "api:app",
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_config=None,
        access_log=False,
        # What uvicorn refuses before the app (oversized headers, garbage) is a problem too.
        http=PROTOCOL,
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
    compressed: Annotated[
        bool,
        typer.Option(
            "--compressed",
            help="Run the real workflows at compressed time (a Temporal time-skipping server "
            "and a worker of its own, writing to the stack's database): weeks pass in minutes "
            "and the escalation ladder fires. --speed and --concurrency do not apply.",
        ),
    ] = False,
    slow_townships: Annotated[
        float,
        typer.Option(
            min=0, max=1, help="With --compressed: share of townships whose people are often late."
        ),
    ] = 0.25,
    url: UrlOption = None,
    base_url: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Play realistic traffic of the demo city, then compare with /v1/stats.

    Through the API in real time, or with --compressed on the workflows themselves over the
    coming working days, so that reminders, cards and rectifications happen and show in the
    statistics and on the console's board. Tokens are minted locally with the settings' secret.
    Exit code 1 when a request failed or the counts differ from the API's (other traffic during
    the run makes them differ too).
    """
    import asyncio

    from rich.console import Console

    from daiban.cli import client as api
    from daiban.cli import render
    from daiban.cli.client import ApiError, ApiUnreachable
    from daiban.cli.simreport import render as render_report
    from daiban.cli.simulate import SimulationOptions
    from daiban.cli.simulate import simulate as play

    options = SimulationOptions(
        days=days,
        rate=rate,
        villages=villages,
        seed=seed,
        speed=speed,
        late_fraction=late_fraction,
        concurrency=concurrency,
    )
    settings = load_settings()
    console = Console(stderr=as_json)

    async def main() -> Report:
        async with api.AsyncApiClient(api_url(base_url), max_connections=concurrency) as http:
            if compressed:
                return await _compressed(http, settings, options, slow_townships, url, console)
            return await play(http, settings, options, console)

    try:
        report = asyncio.run(main())
    except (ApiUnreachable, ApiError) as error:
        fail_api(error, given=base_url)
    if as_json:
        render.print_json(report.to_json())
    else:
        render_report(console, report)
    if report.errors or not report.matches:
        raise typer.Exit(EXIT_FAILURE)


async def _compressed(
    http: AsyncApiClient,
    settings: Settings,
    options: SimulationOptions,
    slow: float,
    url: str | None,
    console: Console,
) -> Report:
    """``simulate --compressed`` on the stack's database; what cannot start is one line."""
    from daiban.cli.county import Pace, simulate_compressed
    from daiban.core.logs import configure_logging
    from daiban.store.db import DatabaseUnavailable, SchemaOutOfDate

    # The worker's own lines (each notification it relays) would bury the progress and report.
    configure_logging("WARNING")
    local = settings.model_copy(update={"database_url": url_or_default(url)})
    try:
        return await simulate_compressed(http, local, options, Pace(slow_townships=slow), console)
    except (DatabaseUnavailable, SchemaOutOfDate, FileNotFoundError, RuntimeError) as error:
        fail(str(error))
