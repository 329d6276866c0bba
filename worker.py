"""Builds and runs the Temporal worker of the request workflow.

``build_worker`` is the factory the tests reuse; ``main`` connects with the settings and shuts
down gracefully on SIGTERM/SIGINT, letting running activities finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.calendar_source import CalendarSource
from activities.deadlines import DeadlineActivities
from activities.export import ExportAdapter, Exporter, adapter_for
from activities.notify import Courier, LogGateway, NotificationGateway, gateway_for
from activities.records import RatingLinks, RecordActivities
from daiban.core.logs import configure_logging, get_logger
from daiban.core.sealed import Sealer
from daiban.core.settings import Settings, get_settings
from daiban.core.temporal import connect, converter, worker_client
from daiban.run.startup import TemporalUnavailable, clear_startup_errors
from daiban.store.db import check_database, check_schema, make_engine
from workflows.request import ResidentRequestWorkflow

log = get_logger("daiban.worker")


# The sandbox re-imports workflow modules per run and guards every call; on these machines it
# costs about a fifth of the worker's CPU per lifecycle (BENCHMARKS.md). Production runs without
# it: `workflows/` is kept pure by tests/workflows/test_purity.py, and tests/replay replays every
# stored history under the sandbox, which still catches a non-deterministic call before a deploy.
WORKFLOW_RUNNER = UnsandboxedWorkflowRunner()
# The contracts are plain dataclasses with no side effects: passing them through the sandbox keeps
# one ``datetime`` class on both sides of the converter and avoids re-importing them per run.
SANDBOXED_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("models")
)


class RequestWorker(Worker):
    """The Temporal worker and, beside it for as long as it runs, the notification courier and
    the exporter (when export is on)."""

    def __init__(
        self,
        relays: list[Courier | Exporter],
        records: RecordActivities,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._relays, self._records = relays, records

    async def shutdown(self) -> None:
        # Claim nothing more from the start of the shutdown: the send in flight is settled
        # (marked sent) before the process ends, so the next worker does not post it again.
        for relay in self._relays:
            relay.stop()
        await super().shutdown()

    async def run(self) -> None:
        relays = [asyncio.create_task(relay.run()) for relay in self._relays]
        try:
            await super().run()
        finally:
            for task in relays:
                task.cancel()
            for task in relays:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._records.close()


def warm_calendar_source(engine: Engine, settings: Settings) -> CalendarSource:
    """The calendar read once at start, while the database is known to answer: a worker that has
    never read it cannot compute a deadline while the database is away (a deploy shortly before
    an outage would leave every rung due in it waiting for the database)."""
    source = CalendarSource(engine, tz=settings.timezone, closing=settings.closing_time)
    source.reload()
    return source


def build_worker(
    client: Client,
    engine: Engine,
    settings: Settings,
    *,
    task_queue: str | None = None,
    gateway: NotificationGateway | None = None,
    max_concurrent_activities: int = 32,
    source: CalendarSource | None = None,
    max_cached_workflows: int = 1000,
    export: ExportAdapter | None = None,
) -> Worker:
    """The worker; ``export`` is the adapter of the province's rating system (none: the records
    wait in the outbox, as with ``DAIBAN_EXPORT=off``)."""
    source = source or CalendarSource(engine, tz=settings.timezone, closing=settings.closing_time)
    deadlines = DeadlineActivities(source)
    sealer = Sealer.from_settings(settings)
    courier = Courier(
        engine, gateway or LogGateway(), interval=settings.notify_relay_seconds, sealer=sealer
    )
    exporter = Exporter.with_settings(engine, export, settings) if export is not None else None
    records = RecordActivities(
        engine,
        source,
        sealer,
        courier,
        max_workers=max_concurrent_activities,
        exporter=exporter,
        links=RatingLinks.from_settings(settings),
    )
    return RequestWorker(
        [courier, exporter] if exporter is not None else [courier],
        records,
        # Strict decoding: no unencrypted workflow input, update or signal argument gets in.
        worker_client(client, settings),
        task_queue=task_queue or settings.task_queue,
        workflows=[ResidentRequestWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[deadlines.compute_deadlines, records.record_transition],
        # Only compute_deadlines (a local activity) runs here; recording has its own threads.
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_local_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=30),
        max_cached_workflows=max_cached_workflows,
    )


async def run_worker(settings: Settings) -> None:
    converter(settings)  # malformed codec keys fail here, before anything starts
    engine = make_engine(settings.database_url)
    check_database(engine)
    check_schema(engine)
    try:
        client = await connect(settings)
    except RuntimeError as error:  # the SDK reports a failed connection as RuntimeError
        raise TemporalUnavailable(
            f"Temporal at {settings.temporal_address} is unreachable: {error}"
        ) from None
    gateway = gateway_for(settings.notify_webhook_url)
    source = warm_calendar_source(engine, settings)
    worker = build_worker(
        client, engine, settings, gateway=gateway, source=source, export=adapter_for(settings)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        log.info(
            "worker started", task_queue=settings.task_queue, address=settings.temporal_address
        )
        await stop.wait()
        log.info("worker stopping: finishing running activities")
    engine.dispose()


def main() -> None:
    with clear_startup_errors("worker"):
        settings = get_settings()
        configure_logging(settings.log_level)
        asyncio.run(run_worker(settings))
    # temporalio/sdk-python#300: skip interpreter teardown, which can abort after a clean stop.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
