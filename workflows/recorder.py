"""The recorder of one request workflow: transitions are decided under the workflow's lock and
written to the ledger and the read model after it, in order, by one loop.

Before it, a transition held the lock until ``record_transition`` had written it. Recording retries
without a limit (nothing may be lost), so while the database was away every action waited on the
lock and no rung fired: a five-minute outage froze every open request for five minutes, and a
deemed acceptance due meanwhile happened late. Now a transition is applied to the state at once
(the query, the timers and the next transitions see it) and queued here, a copy of the state as it
was then; the loop records the queue's head until it is written, then the next, so the ledger
receives every transition once (its event keys make a retried write idempotent) and in the order
the workflow decided them, and the read model catches up version by version.

Deterministic like the workflow: no I/O, time or randomness; the queue is rebuilt by replay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.contracts import TransitionRecord
from workflows.timeouts import (
    RECORD_HEARTBEAT,
    RECORD_RETRY,
    RECORD_TIMEOUT,
    SYSTEM_RETRY_FIRST,
    SYSTEM_RETRY_MAX,
)


class Recorder:
    """An ordered outbox of transitions inside the workflow, drained by one loop."""

    def __init__(self, on_recorded: Callable[[object], None] | None = None) -> None:
        # Told what each recording answered (the numbers it gave to supervision orders), before
        # the transition counts as recorded.
        self._on_recorded = on_recorded
        self.recorded = 0  # the last state version written to the ledger and read model
        self._queue: list[TransitionRecord] = []
        self._closing = False
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._drain_forever())

    def queue(self, record: TransitionRecord) -> None:
        """Record ``record`` after every transition queued before it."""
        self._queue.append(record)

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def until_recorded(self, version: int) -> None:
        await workflow.wait_condition(lambda: self.recorded >= version)

    async def close(self) -> None:
        """Record what is queued, then stop (the run is about to end)."""
        self._closing = True
        if self._loop is not None:
            await self._loop

    async def _drain_forever(self) -> None:
        pause = SYSTEM_RETRY_FIRST
        while True:
            await workflow.wait_condition(lambda: bool(self._queue) or self._closing)
            if not self._queue:
                return
            record = self._queue[0]
            try:
                # Retried by the server without a limit and without a history event per attempt;
                # the heartbeat lets a hung attempt be given up long before its timeout.
                answer = await workflow.execute_activity(
                    "record_transition",
                    record,
                    start_to_close_timeout=RECORD_TIMEOUT,
                    heartbeat_timeout=RECORD_HEARTBEAT,
                    retry_policy=RECORD_RETRY,
                )
            except ActivityError as error:
                # Only an error no retry fixes ends the attempts (a record the database refuses):
                # nothing may be skipped or reordered, so the head waits and is tried again.
                workflow.logger.warning("transition not recorded yet: %s", error)
                await workflow.sleep(pause)
                pause = min(pause * 2, SYSTEM_RETRY_MAX)
                continue
            pause = SYSTEM_RETRY_FIRST
            self._queue.pop(0)
            if self._on_recorded is not None:
                self._on_recorded(answer)
            self.recorded = record.state.version
