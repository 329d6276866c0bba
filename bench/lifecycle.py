"""1. Lifecycle throughput: full city-item lifecycles per second through the HTTP API, against the
bare workflow (``bench.bare``) driven through the Temporal client with the same number of updates
and local activities.

Throughput falls as the server's database fills with completed workflows, so the measured rounds
alternate (bare, real, bare, real) and each figure is the total over its rounds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare import BareInput, BareStep, BareWorkflow
from bench.config import Sizes
from bench.load import JSON, Api, closed_loop
from bench.system import BARE_TASK_QUEUE, System

ROUNDS = 2


LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass(frozen=True)
class Plan:
    """The activities of the start and of each update, as a real lifecycle's history has them."""

    start: BareStep
    updates: tuple[BareStep, ...]


async def history_profile(client: Client, workflow_id: str) -> tuple[JSON, Plan]:
    """Event counts of one history, and the activity plan it shows: local activities (their
    markers; other markers, such as a patch's, are not activities) and regular ones, before the
    first ``act`` and after each ``act`` was accepted."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds: Counter[str] = Counter()
    steps: list[list[int]] = [[0, 0]]
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        kinds[name] += 1
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            update = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if update.input.name == "act":
                steps.append([0, 0])
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes.marker_name
            steps[-1][0] += marker == LOCAL_ACTIVITY_MARKER
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            steps[-1][1] += 1
    profile: JSON = {"events": len(history.events), "by_type": dict(sorted(kinds.items()))}
    plan = [BareStep(local, regular, f"step {n}") for n, (local, regular) in enumerate(steps)]
    return profile, Plan(plan[0], tuple(plan[1:]))


async def bare_lifecycle(client: Client, plan: Plan) -> str:
    workflow_id = f"bare-{uuid.uuid4().hex}"
    start = WithStartWorkflowOperation(
        BareWorkflow.run,
        BareInput(plan.start, len(plan.updates)),
        id=workflow_id,
        task_queue=BARE_TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(
        BareWorkflow.ready, start_workflow_operation=start
    )
    handle = client.get_workflow_handle(workflow_id)
    for step in plan.updates:
        await handle.execute_update(BareWorkflow.act, step)
    return workflow_id


async def wait_bare_worker(client: Client, timeout: float = 60.0) -> None:
    """The bare worker is up once a lifecycle goes through."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await asyncio.wait_for(bare_lifecycle(client, Plan(BareStep(0), ())), 10)
            return
        except Exception:  # not up yet: the update timed out or the server refused it
            if time.monotonic() > deadline:
                raise


async def run(system: System, sizes: Sizes, api: Api) -> JSON:
    assert system.client is not None and system.bare_client is not None
    bare_client = system.bare_client
    system.start_bare_worker()
    try:
        # A real warm-up first: its history tells the bare workflow what to imitate.
        rids: list[str] = []

        async def real(_: int) -> None:
            rids.append(await api.lifecycle())

        await closed_loop(real, sizes.warmup, sizes.concurrency)
        real_profile, plan = await history_profile(system.client, f"req-{rids[-1]}")
        await wait_bare_worker(bare_client)
        bare_ids: list[str] = []

        async def bare(_: int) -> None:
            bare_ids.append(await bare_lifecycle(bare_client, plan))

        await closed_loop(bare, sizes.warmup, sizes.concurrency)
        seconds = {"bare": 0.0, "real": 0.0}
        counts = {"bare": 0, "real": 0}
        cpu: dict[str, dict[str, float]] = {"bare": {}, "real": {}}
        per_round = max(1, sizes.lifecycles // ROUNDS)
        for _ in range(ROUNDS):
            for name, job in (("bare", bare), ("real", real)):
                before = system.cpu()
                seconds[name] += await closed_loop(job, per_round, sizes.concurrency)
                after = system.cpu()
                for part, used in after.items():
                    cpu[name][part] = cpu[name].get(part, 0.0) + used - before.get(part, used)
                counts[name] += per_round
        bare_profile, _ = await history_profile(bare_client, bare_ids[-1])
    finally:
        await system.stop_bare_worker()
    profiles = {"bare": bare_profile, "real": real_profile}

    def rate(name: str) -> float:
        return counts[name] / seconds[name]

    def figures(name: str) -> JSON:
        return {
            "lifecycles": counts[name],
            "seconds": round(seconds[name], 2),
            "per_second": round(rate(name), 2),
            "cpu_ms_per_lifecycle": _per(cpu[name], counts[name]),
            "history": profiles[name],
        }

    result: dict[str, Any] = {
        "concurrency": sizes.concurrency,
        "lifecycles_per_round": per_round,
        "rounds": ROUNDS,
        "bare": figures("bare"),
        "real": figures("real"),
        "plan": {
            "start": [plan.start.local, plan.start.regular],
            "per_update": [[step.local, step.regular] for step in plan.updates],
            "legend": "[local activities, regular activities]",
        },
        "updates_per_lifecycle": 1 + len(plan.updates),
        "ratio": round(rate("real") / rate("bare"), 3),
        # Actions answered 404 right after their submission (see bench.load.Api.first_act).
        "not_yet_readable": api.latencies.not_yet_readable,
    }
    return result


def _per(cpu: dict[str, float], count: int) -> dict[str, float]:
    """CPU milliseconds per lifecycle of each process that did any work."""
    per = {part: round(seconds * 1000 / count, 1) for part, seconds in cpu.items()}
    return {part: ms for part, ms in per.items() if ms >= 0.5}
