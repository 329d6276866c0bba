"""The baseline of the lifecycle benchmark: a workflow that does nothing but take the same updates
and run the same number of trivial local and regular activities as a real request's lifecycle
(bench.lifecycle reads the numbers from a real lifecycle's history).

It runs on its own worker process (``python -m bench.bare``) configured like the real worker
(same workflow runner, same local-activity concurrency), with Temporal's default data converter,
so the ratio real/bare measures everything the application adds: the API, the payload codec, the
deadline and ledger activities, the database, search attributes and larger payloads.

The workflow module imports only the stdlib and ``temporalio`` at the top: the sandbox re-imports
it for each workflow run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow

NOOP_TIMEOUT = timedelta(seconds=10)


@dataclass
class BareStep:
    """What one transition runs: ``local`` local activities, then ``regular`` activities."""

    local: int
    regular: int = 0
    note: str = ""


@dataclass
class BareInput:
    """``start`` runs before ``ready`` returns; then ``updates`` calls of ``act``; the workflow
    ends after the last."""

    start: BareStep
    updates: int


@dataclass
class BareState:
    version: int = 0
    steps: list[str] = field(default_factory=list)


@activity.defn(name="bench_noop")
def noop(step: BareStep) -> BareStep:
    return step


@workflow.defn(name="BenchBare")
class BareWorkflow:
    @workflow.init
    def __init__(self, inp: BareInput) -> None:
        self._state = BareState()
        self._done = 0

    @workflow.run
    async def run(self, inp: BareInput) -> BareState:
        await self._activities(inp.start)
        self._state.version = 1
        await workflow.wait_condition(lambda: self._done >= inp.updates)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    @workflow.update
    async def ready(self) -> BareState:
        await workflow.wait_condition(lambda: self._state.version >= 1)
        return self._state

    @workflow.update
    async def act(self, step: BareStep) -> BareState:
        await self._activities(step)
        self._state.version += 1
        self._done += 1
        return self._state

    async def _activities(self, step: BareStep) -> None:
        for _ in range(step.local):
            await workflow.execute_local_activity(
                noop, BareStep(0, 0, step.note), start_to_close_timeout=NOOP_TIMEOUT
            )
        for _ in range(step.regular):
            await workflow.execute_activity(
                noop, BareStep(0, 0, step.note), start_to_close_timeout=NOOP_TIMEOUT
            )
        self._state.steps.append(step.note)


def main() -> None:
    """``python -m bench.bare ADDRESS TASK_QUEUE``: the baseline worker, until SIGTERM."""
    import asyncio
    import os
    import signal
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.client import Client
    from temporalio.worker import Worker

    from worker import WORKFLOW_RUNNER

    address, task_queue = sys.argv[1], sys.argv[2]

    async def serve() -> None:
        client = await Client.connect(address)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # The same concurrency settings as worker.build_worker.
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[BareWorkflow],
            activities=[noop],
            workflow_runner=WORKFLOW_RUNNER,
            activity_executor=ThreadPoolExecutor(max_workers=32),
            max_concurrent_activities=32,
            max_concurrent_local_activities=32,
        )
        async with worker:
            await stop.wait()

    asyncio.run(serve())
    sys.stdout.flush()
    os._exit(0)  # temporalio/sdk-python#300: never depend on interpreter teardown


if __name__ == "__main__":
    main()
