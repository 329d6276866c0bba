"""2. API latency at a fixed offered load: 10 submits/s plus 40 reads/s, open loop, and console
pages on top (6 per second in the full and quick runs: a clerk's queue, a request page and the
supervisor's board, in turn), each page as a signed-in browser asks for it.

Every fifth submitted request is handed off by its agent one second after the submission answered
(2 actions/s at 10 submits/s: the action latency needs actions, and the offered load is the
submits and the reads). Reads are split: GET of one request 40 %, the supervisor
list, the staff work queue and the statistics 20 % each. Latency is measured from each call's
scheduled instant (bench.load.open_loop); the server's own time of each answer, from its
``Server-Timing`` header, is reported beside it, and the pages' target is held to that.
"""

from __future__ import annotations

import asyncio
import random
import time

from bench.config import Sizes
from bench.load import JSON, Api, Arrival, Latencies, evenly, open_loop
from bench.system import System, Token

READ_SHARES = {"get": 0.4, "list": 0.2, "queue": 0.2, "stats": 0.2}
PAGE_SHARES = {"page_queue": 1 / 3, "page_request": 1 / 3, "page_board": 1 / 3}
HANDOFF_AFTER_SECONDS = 1.0
HANDOFF_EVERY = 5
SEED_SECONDS = 2.0


async def run(system: System, sizes: Sizes, api: Api) -> JSON:
    people = system.people
    townships = sorted(people.township_staff)
    rng = random.Random(7)
    pool: list[tuple[str, Token]] = []
    followups: list[asyncio.Task[object]] = []

    # Requests to read from the first second on (not measured).
    seed = Api(api.http, people)
    for _ in range(max(2, int(sizes.submits_per_s * SEED_SECONDS))):
        agent = seed.next_agent()
        pool.append((await seed.submit(agent), agent))

    api.latencies = measured = Latencies()

    async def handoff(rid: str, agent: Token) -> None:
        await asyncio.sleep(HANDOFF_AFTER_SECONDS)
        await api.first_act(rid, agent, "handoff")

    async def handle(arrival: Arrival, due: float) -> None:
        kind = arrival.kind
        if kind == "submit":
            agent = api.next_agent()
            rid = await api.submit(agent, started=due)
            pool.append((rid, agent))
            if len(pool) % HANDOFF_EVERY == 0:
                followups.append(asyncio.create_task(handoff(rid, agent)))
        elif kind == "get":
            rid, agent = rng.choice(pool)
            await api.call("get", "GET", f"/v1/requests/{rid}", agent, started=due)
        elif kind == "list":
            params = {"township": rng.choice(townships), "limit": "50"}
            await api.call("list", "GET", "/v1/requests", people.supervisor,
                           params=params, started=due)  # fmt: skip
        elif kind == "queue":
            staff = people.township_staff[rng.choice(townships)]
            await api.call("queue", "GET", "/v1/queue", staff, started=due)
        elif kind == "page_queue":
            staff = people.township_staff[rng.choice(townships)]
            await api.page(kind, "/queue", staff, started=due)
        elif kind == "page_request":
            rid, agent = rng.choice(pool)
            await api.page(kind, f"/r/{rid}", agent, started=due)
        elif kind == "page_board":
            await api.page(kind, "/board", people.supervisor, started=due)
        else:
            await api.call("stats", "GET", "/v1/stats", people.supervisor, started=due)

    seconds = sizes.latency_seconds
    arrivals = evenly("submit", sizes.submits_per_s, seconds)
    for n, (kind, share) in enumerate(READ_SHARES.items()):
        arrivals += evenly(kind, sizes.reads_per_s * share, seconds, phase=(n + 1) / 5)
    for n, (kind, share) in enumerate(PAGE_SHARES.items()):
        arrivals += evenly(kind, sizes.pages_per_s * share, seconds, phase=(n + 1) / 7)
    start = time.perf_counter()
    lag, failures = await open_loop(arrivals, handle)
    if followups:
        done, _ = await asyncio.wait(followups, timeout=60)
        failures += sum(1 for t in done if t.exception() is not None)
    elapsed = time.perf_counter() - start
    return {
        "offered": {
            "submits_per_s": sizes.submits_per_s,
            "reads_per_s": sizes.reads_per_s,
            "actions_per_s": sizes.submits_per_s / HANDOFF_EVERY,
            "read_shares": READ_SHARES,
            "pages_per_s": sizes.pages_per_s,
            "seconds": seconds,
        },
        "elapsed_seconds": round(elapsed, 1),
        "worst_start_lag_ms": round(lag * 1000, 1),
        "failures": failures,
        "errors_by_kind": dict(measured.errors),
        "not_yet_readable": measured.not_yet_readable,
        "latency_ms": measured.report(),
        "server_ms": measured.server_report(),
    }
