"""Record histories the way the API makes them, for the replay corpus of one release.

Real requests start with update-with-start and the ``ready`` update (the API's submit), not with
``start_workflow``: a change to when ``ready`` answers, or to any handler's timing, shows only in
such histories. Each release records its own into a folder of ``tests/replay/histories`` so the
next releases must replay them::

    python -m tests.replay.record_api tests/replay/histories/api-<release>

Run it from the checkout of the release being recorded (a worktree at its tag): it imports that
checkout's workflow, worker and test harness, on a time-skipping server, so every rung fires.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from tests.conftest import temporal_binary
from tests.workflows.conftest import (
    AGENT,
    ANCHOR,
    CITY,
    RESIDENT,
    SCHEDULE_2030,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    VILLAGE,
    Harness,
    cst,
    register_search_attributes,
)
from worker import build_worker
from workflows.request import ResidentRequestWorkflow

try:  # the layout since daiban/ was split into rooms
    from daiban.core.settings import Settings
    from daiban.core.temporal import converter
    from daiban.domain.catalog import load_catalog
    from daiban.domain.intake import item_spec, policy
    from daiban.store.db import make_engine, session_scope, upgrade

    try:
        from daiban.store.calendar import load_calendar_year
    except ImportError:  # before the calendar had its own store module
        from daiban.store.db import load_calendar_year  # type: ignore[attr-defined,no-redef]
except ImportError:  # the releases before it
    from daiban.catalog import load_catalog  # type: ignore[no-redef]
    from daiban.db import (  # type: ignore[no-redef]
        load_calendar_year,
        make_engine,
        session_scope,
        upgrade,
    )
    from daiban.intake import item_spec, policy  # type: ignore[no-redef]
    from daiban.settings import Settings  # type: ignore[no-redef]
    from daiban.temporal import converter  # type: ignore[no-redef]

from models.contracts import Actor, RequestInput

CITY_STAFF = Actor("cs-1", "city_staff", CITY)
SUPERVISOR = Actor("sup-1", "supervisor", CITY)
TOWNSHIP_SUPERVISOR = Actor("sup-2", "supervisor", TOWNSHIP)


async def submit_through_api(harness: Harness, item: str) -> str:
    """What ``POST /v1/requests`` does: update-with-start of ``ready``."""
    catalog_item = load_catalog().get(item)
    assert catalog_item is not None
    request_id = uuid.uuid4().hex[:12]
    inp = RequestInput(
        request_id=request_id,
        item=item_spec(catalog_item),
        village=VILLAGE,
        township=TOWNSHIP,
        city=CITY,
        resident=RESIDENT,
        agent=AGENT,
        materials=list(catalog_item.materials),
        policy=policy(harness.settings),
    )
    start = WithStartWorkflowOperation(
        ResidentRequestWorkflow.run,
        inp,
        id=f"req-{request_id}",
        task_queue=harness.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    await harness.client.execute_update_with_start_workflow(
        ResidentRequestWorkflow.ready, start_workflow_operation=start
    )
    harness.handles[request_id] = await start.workflow_handle()
    return request_id


async def township_item_delivered(harness: Harness) -> str:
    """A township item handed off, accepted, approved and delivered: waiting for its rating."""
    rid = await submit_through_api(harness, "linshi-jiuzhu")
    for action, actor in (
        ("handoff", AGENT),
        ("accept", TOWNSHIP_STAFF),
        ("approve", TOWNSHIP_STAFF),
        ("deliver", AGENT),
    ):
        await harness.act(rid, action, actor)
    return rid


async def township_item_at_the_counter(harness: Harness) -> str:
    """The ordinary path of a township item in real time (on the dev server, whose histories
    order an update's completion as production does)."""
    rid = await township_item_delivered(harness)
    await harness.act(rid, "rate", AGENT, score=2)
    await harness.act(rid, "callback", TOWNSHIP_STAFF, note="已回访", reached=True)
    await harness.act(rid, "rectify", TOWNSHIP_STAFF, note="已整改", outcome="fixed")
    await harness.act(rid, "rate", AGENT, score=5)
    return rid


async def township_item_rated(harness: Harness) -> str:
    """The ordinary path of a township item, its reminder and yellow card on the way."""
    rid = await submit_through_api(harness, "linshi-jiuzhu")
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.skip_to(cst("2030-03-19 09:00"))  # past the reminder and the yellow share
    await harness.act(rid, "approve", TOWNSHIP_STAFF)
    await harness.act(rid, "deliver", AGENT)
    await harness.act(rid, "rate", AGENT, score=5)
    return rid


async def city_item_deemed_accepted_and_bad_rating(harness: Harness) -> str:
    """A silent acceptance window (deemed accepted), forwarding, the step and official clocks'
    rungs, a pause, an extension, a bad rating, its rectification and the fix rating window."""
    rid = await submit_through_api(harness, "dibao")
    await harness.act(rid, "handoff", AGENT)
    await harness.skip_to(cst("2030-03-12 09:00"))  # the acceptance window passed
    await harness.eventually(rid, lambda s: s.deemed_accepted)
    await harness.act(rid, "forward", TOWNSHIP_STAFF)
    await harness.act(rid, "accept", CITY_STAFF)
    await harness.act(
        rid, "pause", CITY_STAFF, reason="public_notice", note="公示七日", expected_days=7
    )
    await harness.skip_to(cst("2030-03-21 10:00"))
    await harness.act(rid, "resume", CITY_STAFF)
    await harness.act(rid, "request_extension", CITY_STAFF, days=5, note="需入户核查")
    await harness.act(rid, "approve_extension", SUPERVISOR)
    await harness.skip_to(cst("2030-05-06 09:00"))  # past several rungs of the official clock
    await harness.act(rid, "approve", CITY_STAFF)
    await harness.act(rid, "deliver", AGENT)
    await harness.act(rid, "rate", AGENT, score=1)
    await harness.act(rid, "callback", CITY_STAFF, note="已回访", reached=True)
    await harness.act(rid, "rectify", CITY_STAFF, note="已补发", outcome="fixed")
    await harness.skip_to(cst("2030-06-10 09:00"))  # the fix rating window closes
    await harness.eventually(rid, lambda s: not s.clocks)
    return rid


async def default_rating_and_late_delivery(harness: Harness) -> str:
    """Nobody rates: the delivery clock's rungs, then the default rating when the window ends."""
    rid = await submit_through_api(harness, "linshi-jiuzhu")
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.act(rid, "approve", TOWNSHIP_STAFF)
    await harness.skip_to(cst("2030-03-12 09:00"))  # the delivery limit passed
    await harness.act(rid, "deliver", AGENT)
    await harness.skip_to(cst("2030-03-25 09:00"))
    await harness.eventually(rid, lambda s: s.rating is not None and s.rating.is_default)
    return rid


async def gap_supplied_then_approved(harness: Harness) -> str:
    """容缺受理 under the gap rules: a due date after the promised deadline refused by the
    handler (a failed update in the history), the gap accepted, supplied, then approved."""
    rid = await submit_through_api(harness, "linshi-jiuzhu")
    await harness.act(rid, "handoff", AGENT)
    gap = {"missing_materials": ["遭遇困难情况证明"], "commitment": "承诺书"}
    try:
        await harness.act(rid, "accept_with_gap", TOWNSHIP_STAFF, due="2030-03-19", **gap)
    except WorkflowUpdateFailedError:
        pass  # after Mon 18 March, the promised deadline
    else:
        raise AssertionError("a due date after the promised deadline was accepted")
    await harness.act(rid, "accept_with_gap", TOWNSHIP_STAFF, due="2030-03-08", **gap)
    await harness.skip_to(cst("2030-03-06 10:00"))
    await harness.act(rid, "supply_gap", AGENT)
    await harness.act(rid, "approve", TOWNSHIP_STAFF)
    await harness.act(rid, "deliver", AGENT)
    await harness.act(rid, "rate", AGENT, score=5)
    return rid


async def gap_lapsed(harness: Harness) -> str:
    """An unsupplied gap: the request lapses at the closing time of its due date."""
    rid = await submit_through_api(harness, "dibao")
    await harness.act(rid, "handoff", AGENT)
    await harness.act(
        rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=["家庭收入证明"], due="2030-03-08", commitment="承诺书",
        commitment_by="agent", authorisation="授权委托书",
    )  # fmt: skip
    await harness.skip_to(cst("2030-03-08 17:00"))
    await harness.eventually(rid, lambda s: s.stage == "lapsed")
    return rid


async def bad_rating_called_back_late_scheduled_and_appealed(harness: Harness) -> str:
    """A bad rating whose callback limit passes (its yellow card and order), a callback that does
    not reach the resident then one that does, an appeal the city rejects, a scheduled fix whose
    due date passes, and the fix."""
    rid = await township_item_delivered(harness)
    await harness.act(rid, "rate", AGENT, score=1)
    await harness.skip_to(cst("2030-03-06 09:00"))  # the callback limit passed
    await harness.eventually(rid, lambda s: bool(s.orders))
    await harness.act(rid, "callback", TOWNSHIP_STAFF, note="无人接听", reached=False)
    await harness.act(rid, "callback", TOWNSHIP_STAFF, note="已联系", reached=True)
    await harness.act(rid, "appeal_rating", TOWNSHIP_STAFF, note="评价人误评")
    await harness.act(rid, "review_appeal", SUPERVISOR, upheld=False)
    await harness.act(
        rid, "rectify", TOWNSHIP_STAFF, note="需维修", outcome="scheduled", due="2030-03-15"
    )
    await harness.skip_to(cst("2030-03-18 09:00"))  # the due date passed
    await harness.eventually(rid, lambda s: len(s.orders) >= 2)
    await harness.act(rid, "rectify", TOWNSHIP_STAFF, note="已修复", outcome="fixed")
    return rid


async def city_item_rated_by_tier_with_a_code(harness: Harness) -> str:
    """Delivery texts the resident a rating link; the resident confirms a rating on the agent's
    device with a code, the township rated bad, and the township rectifies."""
    rid = await submit_through_api(harness, "dibao")
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.act(rid, "forward", TOWNSHIP_STAFF)
    await harness.act(rid, "accept", CITY_STAFF)
    await harness.act(rid, "approve", CITY_STAFF)
    await harness.act(rid, "deliver", AGENT)
    await harness.act(
        rid,
        "rate",
        AGENT,
        score=3,
        tiers={"village": 5, "township": 2, "city": 4},
        rating_channel="sms_code",
        rating_proof="code:recorded",
    )
    await harness.act(rid, "callback", TOWNSHIP_STAFF, note="已联系", reached=True)
    await harness.act(rid, "rectify", TOWNSHIP_STAFF, note="已说明", outcome="explained")
    return rid


Scenario = Callable[[Harness], Awaitable[str]]
# name: (scenario, whether it needs the time-skipping server for its rungs)
SCENARIOS: dict[str, tuple[Scenario, bool]] = {
    "api_township_item_at_the_counter": (township_item_at_the_counter, False),
    "api_township_item_rated": (township_item_rated, True),
    "api_city_item_deemed_accepted_and_bad_rating": (
        city_item_deemed_accepted_and_bad_rating,
        True,
    ),
    "api_default_rating_and_late_delivery": (default_rating_and_late_delivery, True),
    "api_gap_supplied_then_approved": (gap_supplied_then_approved, True),
    "api_gap_lapsed": (gap_lapsed, True),
    "api_bad_rating_called_back_late_scheduled_and_appealed": (
        bad_rating_called_back_late_scheduled_and_appealed,
        True,
    ),
    "api_city_item_rated_by_tier_with_a_code": (city_item_rated_by_tier_with_a_code, False),
}
# Update-with-start is a multi-operation; the dev server needs it switched on.
DEV_SERVER_ARGS = ["--dynamic-config-value", "frontend.enableExecuteMultiOperation=true"]


async def _server(skips_time: bool) -> WorkflowEnvironment:
    if skips_time:
        return await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_binary("temporal-test-server"),
            data_converter=converter(Settings()),
        )
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary("temporal"),
        data_converter=converter(Settings()),
        dev_server_extra_args=DEV_SERVER_ARGS,
    )


async def record(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, (scenario, skips_time) in SCENARIOS.items():
        env = await _server(skips_time)
        async with env:
            await register_search_attributes(env.client)
            with tempfile.TemporaryDirectory() as tmp:
                harness = await _harness(env, Path(tmp))
                worker = build_worker(
                    env.client, harness.engine, harness.settings, task_queue=harness.task_queue
                )
                async with worker:
                    if skips_time:
                        await harness.skip_to(ANCHOR)
                    rid = await scenario(harness)
                    history = await harness.handles[rid].fetch_history()
                harness.engine.dispose()
        path = out / f"{name}-0.json"
        path.write_text(history.to_json())
        written.append(path)
    return written


async def _harness(env: WorkflowEnvironment, tmp: Path) -> Harness:
    url = f"sqlite:///{tmp / 'daiban.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_calendar_year(
            session,
            2030,
            [date.fromisoformat(d) for d in SCHEDULE_2030["holidays"]],
            [date.fromisoformat(d) for d in SCHEDULE_2030["workdays"]],
            note="test schedule",
        )
    settings: Any = Settings(database_url=str(engine.url))
    return Harness(env=env, engine=engine, settings=settings, task_queue=f"tq-{uuid.uuid4().hex}")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.replay.record_api <output folder>")
    for path in asyncio.run(record(Path(sys.argv[1]))):
        print(path)  # noqa: T201
    # temporalio/sdk-python#300: skip interpreter teardown, which can abort after the work.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
