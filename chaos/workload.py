"""The workload: requests driven through their lifecycle by concurrent clients of the HTTP API.

Each request is one ``Case`` with its own seeded generator: an agent of a village submits it with
an ``Idempotency-Key``, hands it off; township staff accept it and, for a city item, forward it to
the city center, whose staff accept it; the deciding office approves; the agent delivers the
result and rates the service (3 to 5: no rectification). The lifecycle is cut into one segment per
fault phase, so that every request is in flight during every fault and the checks after a phase
know the stage each request must have reached.

Clients behave as careful real clients do:

- a submission that gets no answer (connection refused or dropped, timeout) or a 5xx is retried
  with the same ``Idempotency-Key``; a 429 waits for ``Retry-After``;
- an action that gets no answer, a 5xx or a 409 is not blindly repeated: the client re-reads the
  request and counts the action as done when the history shows it applied; otherwise it retries
  (a 409 only while the fresh state still allows the action, else the case fails).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from daiban.cli.simulate import fake_resident
from daiban.core.settings import Settings
from daiban.domain.offices import demo_city, demo_offices, demo_tree
from daiban.http.auth import mint_token

JSON = dict[str, Any]
TOKEN_TTL_SECONDS = 6 * 3600
THINK = (0.05, 0.4)  # seconds between two steps of one client
BACKOFF_FIRST, BACKOFF_MAX = 0.25, 4.0
APPROVE_NOTE = "审核通过"

# The stage every request must be at after each phase (by cohort and deciding tier); None: not
# submitted yet. The first cohort lives through the first four faults; the late cohort is
# submitted while the previous release's workers run, waits out the long outage (its acceptance
# windows expire in it) and is delivered while the notification webhook hangs.
PHASES = (
    "api-kill",
    "worker-kills",
    "temporal-restart",
    "db-outage",
    "previous-release",
    "long-outage",
    "hanging-webhook",
)
DONE = ("completed",) * 3
EXPECTED: dict[tuple[bool, str], tuple[str | None, ...]] = {
    (False, "township"): (
        "township_review", "township_review", "result_delivery", "completed", *DONE
    ),
    (False, "city"): ("township_review", "city_review", "city_review", "completed", *DONE),
    (True, "township"): (None, None, None, None, "township_review", "township_review", "completed"),
    (True, "city"): (None, None, None, None, "township_review", "city_review", "completed"),
}  # fmt: skip
LATE_FIRST_PHASE = PHASES.index("previous-release")


class CaseFailed(Exception):
    """A step of one case could not be completed; the case stops, the run goes on."""


@dataclass(frozen=True)
class Step:
    """One call of the lifecycle: ``submit``, an action, or ``rate``; by a role of an office."""

    action: str
    role: str
    office: str
    fields: JSON = field(default_factory=dict)


@dataclass
class Case:
    number: int
    key: str
    village: str
    township: str
    item: str
    tier: str
    resident: dict[str, str]
    materials: list[str]
    segments: list[list[Step]]
    rng: random.Random
    late: bool = False  # of the late cohort (submitted under the previous release)
    request_id: str | None = None
    submitted_at: float | None = None  # time.monotonic() of the first answer with an id
    # Stages that differ from the plan's, by phase (set by the runner as the run goes).
    expected_override: dict[int, str] = field(default_factory=dict)
    ids_seen: set[str] = field(default_factory=set)
    submit_attempts: int = 0
    submit_statuses: list[int] = field(default_factory=list)
    applied: Counter[str] = field(default_factory=Counter)
    state: JSON = field(default_factory=dict)
    error: str | None = None

    def expected_stage(self, phase: int) -> str | None:
        """The stage after ``phase``; None before the case is submitted."""
        return self.expected_override.get(phase, EXPECTED[(self.late, self.tier)][phase])


def plan(seed: int, count: int, catalog: list[JSON], today: date, late: int = 0) -> list[Case]:
    """``count`` cases, half township items and half city items, from villages drawn by ``seed``,
    and ``late`` more of the late cohort.

    Submissions come from many villages (agents), as in the field; a single agent would meet the
    per-agent submission rate limit.
    """
    rng = random.Random(seed)
    villages = [o for o in demo_offices() if o.tier == "village"]
    chosen = rng.sample(villages, min(len(villages), max(8, (count + late) // 5)))
    by_tier: dict[str, list[JSON]] = {"township": [], "city": []}
    for item in catalog:
        by_tier[str(item["deciding_tier"])].append(item)
    cases = []
    for number in range(1, count + late + 1):
        is_late = number > count
        village = rng.choice(chosen)
        township = demo_tree().township_of(village.code) or ""
        tier = "township" if number % 2 else "city"
        item = rng.choice(by_tier[tier])
        case_rng = random.Random(rng.getrandbits(64))
        score = case_rng.choice((3, 4, 5, 5))
        agent = ("agent", village.code)
        staff = ("township_staff", township)
        city = ("city_staff", demo_city().code)
        decider = city if tier == "city" else staff

        def step(actor: tuple[str, str], action: str, **fields: Any) -> Step:
            return Step(action, actor[0], actor[1], fields)

        segments: list[list[Step]]
        if is_late and tier == "city":
            # Deemed accepted at the township in the long outage, then forwarded.
            segments = [[], [], [], []]
            segments += [
                [step(agent, "submit"), step(agent, "handoff")],
                [step(staff, "forward", note="初审通过，转报市中心")],
                [
                    step(city, "accept"),
                    step(decider, "approve", note=APPROVE_NOTE),
                    step(agent, "deliver"),
                    step(agent, "rate", score=score),
                ],
            ]
        elif is_late:
            # Deemed accepted in the long outage; decided while the webhook hangs.
            segments = [[], [], [], []]
            segments += [
                [step(agent, "submit"), step(agent, "handoff")],
                [],
                [
                    step(decider, "approve", note=APPROVE_NOTE),
                    step(agent, "deliver"),
                    step(agent, "rate", score=score),
                ],
            ]
        elif tier == "city":
            segments = [
                [step(agent, "submit"), step(agent, "handoff")],
                [step(staff, "accept"), step(staff, "forward", note="初审通过，转报市中心")],
                [step(city, "accept")],
                [
                    step(decider, "approve", note=APPROVE_NOTE),
                    step(agent, "deliver"),
                    step(agent, "rate", score=score),
                ],
            ]
        else:
            segments = [
                [step(agent, "submit"), step(agent, "handoff")],
                [step(staff, "accept")],
                [step(decider, "approve", note=APPROVE_NOTE)],
                [step(agent, "deliver"), step(agent, "rate", score=score)],
            ]
        segments += [[] for _ in range(len(PHASES) - len(segments))]
        cases.append(
            Case(
                number=number,
                key=f"chaos-{seed}-{number:04d}",
                village=village.code,
                township=township,
                item=str(item["code"]),
                tier=tier,
                resident=fake_resident(case_rng, today),
                materials=[str(m) for m in item["materials"]],
                segments=segments,
                rng=case_rng,
                late=is_late,
            )
        )
    return cases


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (connection refused or dropped, timeout)
    body: JSON | None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status >= 500

    def describe(self) -> str:
        body = self.body or {}
        return f"HTTP {self.status} {body.get('title', '')}: {body.get('detail', '')}".strip()


def history_count(state: JSON, action: str) -> int:
    return sum(1 for entry in state.get("history", []) if entry.get("action") == action)


class Driver:
    """Sends the cases' calls; counts what the clients met; ``inflight`` is the number of writes
    (submissions and actions) waiting for an answer right now."""

    def __init__(self, api_url: str, settings: Settings, op_timeout: float) -> None:
        self.settings = settings
        self.op_timeout = op_timeout
        self.inflight = 0
        self.seen: Counter[str] = Counter()
        self._tokens: dict[tuple[str, str], str] = {}
        self._http = httpx.AsyncClient(
            base_url=api_url,
            timeout=httpx.Timeout(60.0, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def token(self, role: str, office: str) -> str:
        key = (role, office)
        if key not in self._tokens:
            sub = f"chaos-{role}-{office}"
            self._tokens[key] = mint_token(self.settings, sub, role, office, TOKEN_TTL_SECONDS)
        return self._tokens[key]

    async def send(
        self,
        method: str,
        path: str,
        token: str,
        body: JSON | None = None,
        headers: dict[str, str] | None = None,
        *,
        write: bool = False,
    ) -> Answer:
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        if write:
            self.inflight += 1
        try:
            response = await self._http.request(method, path, json=body, headers=all_headers)
        except httpx.TransportError as error:
            self.seen[f"no answer ({type(error).__name__})"] += 1
            return Answer(0, None)
        finally:
            if write:
                self.inflight -= 1
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        answer_body = parsed if isinstance(parsed, dict) else None
        if response.status_code >= 500 or response.status_code == 429:
            self.seen[f"HTTP {response.status_code} on {method} {_route(path)}"] += 1
        retry_after = response.headers.get("Retry-After")
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        return Answer(response.status_code, answer_body, wait)

    # --- one phase -----------------------------------------------------------------------------

    async def run_phase(self, cases: list[Case], phase: int, spread: float) -> None:
        """Every case not failed yet plays its segment of ``phase``, starting at a random moment
        within ``spread`` seconds; returns when all are done (or failed)."""

        async def play(case: Case) -> None:
            if case.error is not None:
                return
            await asyncio.sleep(case.rng.uniform(0, spread))
            try:
                for step in case.segments[phase]:
                    await asyncio.sleep(case.rng.uniform(*THINK))
                    await self._step(case, step)
            except CaseFailed as error:
                case.error = f"{PHASES[phase]}: {error}"

        await asyncio.gather(*(play(case) for case in cases))

    async def _step(self, case: Case, step: Step) -> None:
        if step.action == "submit":
            await self._submit(case, step)
        else:
            await self._act(case, step)

    async def _pause(self, case: Case, attempt: int, answer: Answer, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise CaseFailed(f"gave up after {self.op_timeout:.0f} s; last {answer.describe()}")
        backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2**attempt) * case.rng.uniform(0.5, 1.0)
        await asyncio.sleep(max(backoff, answer.retry_after or 0.0))

    async def _submit(self, case: Case, step: Step) -> None:
        token = self.token(step.role, step.office)
        body: JSON = {"item": case.item, "resident": case.resident, "materials": case.materials}
        headers = {"Idempotency-Key": case.key}
        deadline = time.monotonic() + self.op_timeout
        attempt = 0
        while True:
            case.submit_attempts += 1
            answer = await self.send("POST", "/v1/requests", token, body, headers, write=True)
            if answer.status in (200, 201) and answer.body is not None:
                case.submit_statuses.append(answer.status)
                case.request_id = str(answer.body["id"])
                if case.submitted_at is None:
                    case.submitted_at = time.monotonic()
                case.ids_seen.add(case.request_id)
                case.state = answer.body
                if answer.status == 200:
                    self.seen["submit replayed by key (200)"] += 1
                return
            if not (answer.retryable or answer.status == 429):
                raise CaseFailed(f"submit: {answer.describe()}")
            await self._pause(case, attempt, answer, deadline)
            attempt += 1

    async def _act(self, case: Case, step: Step) -> None:
        assert case.request_id is not None
        token = self.token(step.role, step.office)
        want = case.applied[step.action] + 1
        if step.action == "rate":
            path, body = f"/v1/requests/{case.request_id}/rating", dict(step.fields)
        else:
            path = f"/v1/requests/{case.request_id}/actions"
            body = {"action": step.action, **step.fields}
        deadline = time.monotonic() + self.op_timeout
        attempt = 0
        while True:
            answer = await self.send("POST", path, token, body, write=True)
            if answer.status == 200 and answer.body is not None:
                case.state = answer.body
                if history_count(answer.body, step.action) < want:
                    raise CaseFailed(f"{step.action}: 200 but the history does not show it")
                case.applied[step.action] = want
                return
            if not (answer.retryable or answer.status in (409, 429)):
                raise CaseFailed(f"{step.action}: {answer.describe()}")
            if answer.status != 429:
                # Never repeat an action blindly: it may have applied before the answer was lost.
                state = await self._read(case, token, deadline)
                if history_count(state, step.action) >= want:
                    self.seen[f"{_kind(answer)}, then found applied"] += 1
                    case.applied[step.action] = want
                    return
                if answer.status == 409:
                    if step.action not in state.get("allowed_actions", []):
                        raise CaseFailed(
                            f"{step.action}: {answer.describe()}; stage now {state.get('stage')}"
                        )
                    self.seen["409, not applied and still allowed: retried"] += 1
            await self._pause(case, attempt, answer, deadline)
            attempt += 1

    async def _read(self, case: Case, token: str, deadline: float) -> JSON:
        """The request as the acting caller sees it now, retrying like any other call."""
        path = f"/v1/requests/{case.request_id}"
        attempt = 0
        while True:
            answer = await self.send("GET", path, token)
            if answer.status == 200 and answer.body is not None:
                case.state = answer.body
                return answer.body
            if not (answer.retryable or answer.status == 429):
                raise CaseFailed(f"read: {answer.describe()}")
            await self._pause(case, attempt, answer, deadline)
            attempt += 1


def _kind(answer: Answer) -> str:
    return "no answer" if answer.status == 0 else f"HTTP {answer.status}"


def _route(path: str) -> str:
    """``/v1/requests/abc/actions`` → ``/v1/requests/{id}/actions``: counters per route."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1:3] == ["v1", "requests"]:
        parts[3] = "{id}"
    return "/".join(parts)
