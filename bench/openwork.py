"""3. Cost as open work grows: submit latency and lifecycle throughput with no open request and
with N open requests waiting on their deadlines; server, worker and API memory at both points.

The open requests are request workflows started through the Temporal client (the API adds nothing
to what they cost once they wait), with the catalog's mix of items, in two kinds:

- ``real``: started and run: each records its registration (ledger, read model, outbox) and then
  sleeps on its hand-off clock's durable timer. This machine registers them at about 15-30 a
  second, so 20,000 would take the whole run's budget many times over; so only the first
  ``real_fill`` are made this way.
- ``deferred``: the rest are the same workflow with the same encrypted input and search
  attributes, started with a start delay of one day: the server holds each as an open execution
  with a durable timer (the delay) and its visibility record, which is what open work costs a
  Temporal server, and a read-model row (a copy of a real open request's row) is inserted for each,
  which is what it costs the read model. Their first workflow task would run after the bench.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import String, any_, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from bench.config import Sizes
from bench.load import JSON, Api, Arrival, Latencies, closed_loop, evenly, open_loop, resident
from bench.procs import rss_mib
from bench.system import TASK_QUEUE, System, township_of_village
from daiban.domain.catalog import load_catalog
from daiban.domain.intake import item_spec, policy
from daiban.domain.offices import demo_city
from daiban.store import rollup
from daiban.store.db import session_scope
from models import search_attributes as sa
from models.contracts import Actor, RequestInput, Resident, Stage
from models.db import RequestRow
from workflows.request import ResidentRequestWorkflow

FILL_TIMEOUT_SECONDS = 900.0
DEFERRED_START = timedelta(days=1)
PROBE_SUBMITS_PER_S = 3.0


class OpenWork:
    def __init__(self, system: System, sizes: Sizes, api: Api) -> None:
        self.system = system
        self.sizes = sizes
        self.api = api

    async def point(self) -> JSON:
        """Throughput (closed loop), then submit latency (open loop), then memory."""
        system, sizes, api = self.system, self.sizes, self.api
        open_before = await asyncio.to_thread(system.open_requests)

        async def one(_: int) -> None:
            await api.lifecycle()

        await closed_loop(one, sizes.warmup, sizes.concurrency)  # warm caches
        seconds = await closed_loop(one, sizes.open_lifecycles, sizes.concurrency)
        probe = Api(api.http, system.people, latencies=Latencies())

        async def submit(_: Arrival, due: float) -> None:
            await probe.submit(probe.next_agent(), started=due)

        # A light probe: the latency of a submission, not the queue of an overloaded system.
        rate = min(sizes.submits_per_s, PROBE_SUBMITS_PER_S)
        arrivals = evenly("submit", rate, sizes.submit_probe_seconds)
        _, failures = await open_loop(arrivals, submit)
        return {
            "open_requests": open_before,
            "lifecycles_per_second": round(sizes.open_lifecycles / seconds, 2),
            "submit_probe_per_s": rate,
            "submit_ms": probe.latencies.report().get("submit", {}),
            "submit_failures": failures,
            "rss_mib": self.memory(),
        }

    def memory(self) -> dict[str, float]:
        s = self.system
        return {
            name: rss_mib(child.pid) if child.running() else 0.0
            for name, child in (("server", s.temporal), ("worker", s.worker), ("api", s.api))
            if child is not None
        }

    async def empty_point(self) -> JSON:
        return {"empty": await self.point()}

    async def full_point(self, partial: JSON, fill: JSON) -> JSON:
        """The second point, after ``fill`` (see ``fill``) opened N requests."""
        full = await self.point()
        empty = partial["empty"]
        empty_p50, full_p50 = empty["submit_ms"].get("p50"), full["submit_ms"].get("p50")
        empty_p95, full_p95 = empty["submit_ms"].get("p95"), full["submit_ms"].get("p95")
        return {
            "n": self.sizes.open_requests,
            "empty": empty,
            "fill": fill,
            "full": full,
            "throughput_ratio": round(
                full["lifecycles_per_second"] / empty["lifecycles_per_second"], 3
            ),
            "submit_p50_ratio": round(full_p50 / empty_p50, 3) if empty_p50 else None,
            "submit_p95_ratio": round(full_p95 / empty_p95, 3) if empty_p95 else None,
        }

    async def fill(self, target: int) -> JSON:
        """Open requests until ``target`` are open: real ones first, then deferred ones."""
        system = self.system
        assert system.client is not None
        client = system.client
        already = await asyncio.to_thread(system.open_requests)
        real = max(0, min(self.sizes.real_fill, target - already))
        start = time.monotonic()
        await start_requests(client, system, real, self.sizes.fill_concurrency)
        deadline = time.monotonic() + FILL_TIMEOUT_SECONDS
        while (now_open := await asyncio.to_thread(system.open_requests)) < already + real:
            system.children.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {now_open} requests open after the real fill")
            await asyncio.sleep(0.5)
        real_seconds = time.monotonic() - start
        deferred = max(0, target - now_open)
        start = time.monotonic()
        ids = await start_requests(
            client, system, deferred, self.sizes.fill_concurrency, delay=DEFERRED_START
        )
        await asyncio.to_thread(copy_rows, system, ids)
        deferred_seconds = time.monotonic() - start
        now_open = await asyncio.to_thread(system.open_requests)
        return {
            "real": real,
            "real_seconds": round(real_seconds, 1),
            "real_per_second": round(real / real_seconds, 1) if real else None,
            "deferred": deferred,
            "deferred_seconds": round(deferred_seconds, 1),
            "deferred_per_second": round(deferred / deferred_seconds, 1) if deferred else None,
            "open_after": now_open,
        }


def copy_rows(system: System, ids: list[str]) -> None:
    """A read-model row for each deferred request: a copy of the newest real open request's row
    (same width, same indexes touched) under its own id, counted in the statistics rollup as
    ``upsert_request`` would have."""
    if not ids:
        return
    assert system.engine is not None
    columns = [c for c in RequestRow.__table__.columns.keys() if c != "id"]  # type: ignore[attr-defined]
    listed = ", ".join(columns)
    picked = ", ".join(f"t.{c}" for c in columns)
    query = text(
        f"INSERT INTO requests (id, {listed}) "
        f"SELECT x.id, {picked} FROM (SELECT * FROM requests WHERE status = 'open' "
        "  AND stage = 'village_intake' ORDER BY created_at DESC LIMIT 1) AS t, "
        "  unnest(CAST(:ids AS text[])) AS x(id)"
    )
    with session_scope(system.engine) as session:
        session.connection().execute(query, {"ids": ids})
        copied = col(RequestRow.id) == any_(bindparam("ids", ids, type_=ARRAY(String())))
        rollup.add_requests(session, system.tz, copied)
        session.connection().execute(text("ANALYZE requests"))


async def start_requests(
    client: Client,
    system: System,
    count: int,
    concurrency: int,
    delay: timedelta | None = None,
) -> list[str]:
    """``count`` new request workflows, as the API would start them, ``concurrency`` at a time;
    with ``delay``, deferred (see the module docstring). Returns their request ids."""
    catalog = load_catalog()
    items = catalog.codes()
    agents = system.people.agents
    rules = policy(system.settings)
    rng = random.Random(11)
    counter = itertools.count()
    ids: list[str] = []
    tz = system.tz

    async def lane() -> None:
        while (n := next(counter)) < count:
            agent = agents[n % len(agents)]
            item = catalog.get(rng.choice(items))
            assert item is not None
            request_id = uuid.uuid4().hex
            inp = RequestInput(
                request_id=request_id,
                item=item_spec(item),
                village=agent.office,
                township=township_of_village(agent.office),
                city=demo_city().code,
                resident=Resident(**resident(n)),
                agent=Actor(f"bench-agent-{agent.office}", "agent", agent.office),
                materials=list(item.materials),
                note="bench: open work",
                policy=rules,
            )
            if delay is None:
                await client.start_workflow(
                    ResidentRequestWorkflow.run, inp, id=f"req-{request_id}", task_queue=TASK_QUEUE
                )
            else:
                due = datetime.now(tz) + delay
                attributes = TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.STAGE, Stage.VILLAGE_INTAKE),
                        SearchAttributePair(sa.OFFICE, agent.office),
                        SearchAttributePair(sa.TOWNSHIP, inp.township),
                        SearchAttributePair(sa.ITEM, item.code),
                        SearchAttributePair(sa.OVERDUE, "none"),
                        SearchAttributePair(sa.DEADLINE, due),
                    ]
                )
                await client.start_workflow(
                    ResidentRequestWorkflow.run,
                    inp,
                    id=f"req-{request_id}",
                    task_queue=TASK_QUEUE,
                    start_delay=delay,
                    search_attributes=attributes,
                )
            ids.append(request_id)

    if count > 0:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, count))):
                group.create_task(lane())
    return ids
