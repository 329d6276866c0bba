"""Load generation: the HTTP calls of a lifecycle, a closed loop (throughput) and an open-loop
scheduler (latency at a fixed offered load), and latency summaries.

Open loop: each call is started at its scheduled instant whether or not earlier calls have
answered, and its latency is measured from that instant, so a slow server cannot slow the offered
load down and hide its own queueing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from bench.system import People, Token, township_of_village

CITY_ITEM = "dibao"  # forwarded to and decided by the city: the longest ordinary path
JSON = dict[str, Any]


class BenchError(Exception):
    """A call that should have succeeded did not: a benchmark of failures measures nothing."""


class NotYetReadable(BenchError):
    """An action answered 404 for a request the bench has just submitted."""


RETRIES_404 = 100
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


# --- figures -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Sequence[float]) -> JSON:
    """count, p50, p95, p99 and max of latencies in milliseconds."""
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


@dataclass
class Latencies:
    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # The server's own time of each answer (its ``Server-Timing``), without the time the call
    # waited in this process or on the wire: the pages' target is held to it.
    server_by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # First actions answered 404 because the read model did not have the request yet (retried).
    not_yet_readable: int = 0

    def add(self, kind: str, ms: float) -> None:
        self.by_kind[kind].append(ms)

    def add_server(self, kind: str, response: httpx.Response) -> None:
        timing = SERVER_TIMING.fullmatch(response.headers.get("server-timing", ""))
        if timing is not None:
            self.server_by_kind[kind].append(float(timing[1]))

    def report(self) -> dict[str, JSON]:
        return {kind: summary(values) for kind, values in sorted(self.by_kind.items())}

    def server_report(self) -> dict[str, JSON]:
        return {kind: summary(values) for kind, values in sorted(self.server_by_kind.items())}


# --- residents ---------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident(n: int) -> JSON:
    """A made-up resident with a valid ID number (GB 11643 check digit) and mobile number."""
    rng = random.Random(n)
    born = f"{rng.randint(1940, 1990)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = f"370285{born}{rng.randint(0, 999):03d}"
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]
    return {
        "name": "王秀英",
        "id_number": first17 + check,
        "phone": f"138{rng.randint(0, 99_999_999):08d}",
    }


# --- calls -------------------------------------------------------------------------------------


@dataclass
class Api:
    """The HTTP API as the load sees it; every call checks its status and records its latency."""

    http: httpx.AsyncClient
    people: People
    latencies: Latencies = field(default_factory=Latencies)
    _agents: itertools.cycle[Token] = field(init=False)
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self._agents = itertools.cycle(self.people.agents)

    def next_agent(self) -> Token:
        return next(self._agents)

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        token: Token,
        *,
        json: JSON | None = None,
        params: dict[str, str] | None = None,
        expect: int = 200,
        started: float | None = None,
    ) -> JSON:
        """One call; ``started`` (a perf_counter instant) is when an open loop meant to send it."""
        response = await self._send(
            kind, method, path, token.headers, started, json=json, params=params
        )
        if response.status_code == 404 and kind == "action":
            raise NotYetReadable(path)
        if response.status_code != expect:
            self._failed(kind, response)
        body: JSON = response.json()
        return body

    async def page(self, kind: str, path: str, person: Token, started: float) -> None:
        """One console page as a signed-in person's browser asks for it (HTML, 200)."""
        response = await self._send(kind, "GET", path, person.page_headers, started)
        html = response.headers.get("content-type", "").startswith("text/html")
        if response.status_code != 200 or not html:
            self._failed(kind, response)

    async def _send(
        self,
        kind: str,
        method: str,
        path: str,
        headers: dict[str, str],
        started: float | None,
        **options: Any,
    ) -> httpx.Response:
        """Send, and record the latency from ``started`` (or now) to the answer."""
        start = time.perf_counter() if started is None else started
        try:
            response = await self.http.request(method, path, headers=headers, **options)
        except httpx.HTTPError as error:
            self.latencies.errors[kind] += 1
            raise BenchError(f"{kind}: {type(error).__name__}: {error}") from error
        self.latencies.add(kind, (time.perf_counter() - start) * 1000)
        self.latencies.add_server(kind, response)
        return response

    def _failed(self, kind: str, response: httpx.Response) -> NoReturn:
        self.latencies.errors[kind] += 1
        raise BenchError(f"{kind}: HTTP {response.status_code}: {response.text[:300]}")

    async def submit(
        self, agent: Token, item: str = CITY_ITEM, started: float | None = None
    ) -> str:
        body = {
            "item": item,
            "resident": resident(next(self._serial)),
            "materials": ["户口簿", "身份证"],
            "note": "bench",
        }
        state = await self.call(
            "submit", "POST", "/v1/requests", agent, json=body, expect=201, started=started
        )
        return str(state["id"])

    async def act(
        self, rid: str, token: Token, action: str, started: float | None = None, **fields: Any
    ) -> JSON:
        body = {"action": action, **fields}
        return await self.call(
            "action", "POST", f"/v1/requests/{rid}/actions", token, json=body, started=started
        )

    async def first_act(self, rid: str, token: Token, action: str, **fields: Any) -> JSON:
        """The first action after a submission. Under load the submission can answer before the
        read model has the request (the workflow's registration task was completed early while
        its record activity still ran), and the action's scope check then answers 404: count
        that, wait, retry."""
        for _ in range(RETRIES_404):
            try:
                return await self.act(rid, token, action, **fields)
            except NotYetReadable:
                self.latencies.not_yet_readable += 1
                await asyncio.sleep(0.1)
        raise BenchError(f"{rid} never became readable")

    async def rate(self, rid: str, agent: Token, score: int = 5) -> JSON:
        return await self.call(
            "action", "POST", f"/v1/requests/{rid}/rating", agent, json={"score": score}
        )

    async def lifecycle(self, agent: Token | None = None) -> str:
        """A city item from submission to rating: submit → handoff → accept → forward → accept
        → approve → deliver → rate."""
        agent = agent or self.next_agent()
        township = self.people.township_staff[township_of_village(agent.office)]
        city = self.people.city_staff
        rid = await self.submit(agent)
        await self.first_act(rid, agent, "handoff")
        await self.act(rid, township, "accept")
        await self.act(rid, township, "forward", note="初审通过")
        await self.act(rid, city, "accept")
        await self.act(rid, city, "approve", note="符合条件")
        await self.act(rid, agent, "deliver")
        state = await self.rate(rid, agent)
        if state.get("status") != "closed":
            raise BenchError(f"lifecycle of {rid} ended in stage {state.get('stage')}")
        return rid


def http_client(base_url: str, connections: int = 128) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0)


# --- loops -------------------------------------------------------------------------------------


async def closed_loop(
    run_one: Callable[[int], Awaitable[object]], total: int, concurrency: int
) -> float:
    """Run ``total`` jobs, ``concurrency`` at a time; the wall time in seconds."""
    counter = itertools.count()

    async def lane() -> None:
        while (n := next(counter)) < total:
            await run_one(n)

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, total)):
            group.create_task(lane())
    return time.perf_counter() - start


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the start
    kind: str


def evenly(kind: str, per_second: float, seconds: float, phase: float = 0.0) -> list[Arrival]:
    """Arrivals at a constant rate; ``phase`` (0..1) shifts them within their interval."""
    if per_second <= 0:
        return []
    step = 1.0 / per_second
    count = int(seconds * per_second)
    return [Arrival((n + phase) * step, kind) for n in range(count)]


async def open_loop(
    arrivals: Sequence[Arrival],
    handler: Callable[[Arrival, float], Awaitable[object]],
    drain_timeout: float = 120.0,
) -> tuple[float, int]:
    """Start ``handler(arrival, scheduled perf_counter instant)`` at each arrival's time; wait for
    the stragglers. Returns the worst lateness of a start (seconds) and the number of failures."""
    start = time.perf_counter()
    tasks: list[asyncio.Task[object]] = []
    worst_lag = 0.0
    for arrival in sorted(arrivals, key=lambda a: a.at):
        due = start + arrival.at
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        worst_lag = max(worst_lag, time.perf_counter() - due)
        tasks.append(asyncio.create_task(handler(arrival, due)))  # type: ignore[arg-type]
    done, pending = await asyncio.wait(tasks, timeout=drain_timeout) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    failures = len(pending) + sum(1 for t in done if t.exception() is not None)
    return worst_lag, failures
