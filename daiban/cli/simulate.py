"""``daiban simulate``: realistic traffic for the demo city, played by its people.

Residents arrive at village proxy rooms (a Poisson number per village per simulated working day),
with a mix of items that favours the on-the-spot enrolments and the social-assistance items. Each
request is played as the people involved would: the agent registers and hands it off, township
(and for city items city) staff accept, ask for a supplement, accept with a gap, refuse, forward,
approve or deny; the agent delivers and the resident rates; a bad rating is rectified by the
handling office. Agents and staff act concurrently (asyncio) after short random delays.

Where the people act, and how their time passes, is a ``Desk``. ``ApiDesk`` plays through the
HTTP API with time compressed on this side only: the Temporal server runs in real time, so
deadlines are never waited for, and the ``late_fraction`` of requests left untouched at some stage
("left waiting") escalate when their real deadlines pass, after the run. ``--compressed`` plays on
the workflows themselves at compressed time instead (``daiban/cli/county.py``), where the ladder
fires during the run. A run is reproducible per request for a given ``seed`` (each request draws
from its own generator), whatever the interleaving.

Through the API, tokens are minted locally (``mint_token``) for every agent, township staff, the
city staff and a city supervisor. At the end the report (``simreport``) compares its own counts
with the change of the API's ``GET /v1/stats`` totals over the run.

One module, though long: the play of one request reads top to bottom as the people act, and
splitting it by tier would scatter that story.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from daiban.cli import client as api
from daiban.cli.client import JSON, ApiError, ApiUnreachable, AsyncApiClient
from daiban.core.settings import Settings
from daiban.domain.offices import OfficeTree, demo_city, make_office
from daiban.http.auth import mint_token
from models.actions import handled_tiers

if TYPE_CHECKING:
    from daiban.cli.simreport import Report  # the report reads the cases defined here

# Relative weights of the items a village brings in; items missing here get weight 1.
ITEM_WEIGHTS = {
    "yibao-dengji": 22,
    "yanglao-dengji": 20,
    "shebao-ka": 14,
    "dibao": 10,
    "linshi-jiuzhu": 8,
    "gaoling-jintie": 5,
    "yanglao-daiyu": 5,
    "canji-zheng": 4,
    "shengyu-dengji": 4,
    "canji-butie": 3,
    "shenfenzheng": 3,
    "tekun": 1,
    "zhaijidi": 1,
}
SCORE_WEIGHTS = {5: 55, 4: 25, 3: 10, 2: 6, 1: 4}
# How residents rate (docs/design.md §4): on their own phone through the link texted at delivery,
# on the agent's phone with the code texted to theirs, or the agent enters it unconfirmed.
CHANNEL_WEIGHTS = {"link": 55, "sms_code": 35, "agent_unconfirmed": 10}
UNCONFIRMED = "agent_unconfirmed"
# Where a late request is left untouched: the agent never hands off, the township never accepts,
# the agent never delivers, the resident never rates.
LATE_STAGES = ("village_intake", "township_review", "result_delivery", "awaiting_rating")
# A simulated working day lasts this many seconds at --speed 1.
DAY_SECONDS = 20.0
TOKEN_TTL_SECONDS = 24 * 3600
# The totals of GET /v1/stats that the report compares with its own counts.
COMPARED = ("total", "completed", "bad_ratings", "agent_unconfirmed")
# The rung columns of GET /v1/stats and the levels each counts (a statutory rung is a red card
# there too); compared when the run saw the rungs fire, at compressed time.
STATS_RUNGS = {"reminder": ("reminder",), "yellow": ("yellow",), "red": ("red", "statutory")}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕姜"
GIVEN = "秀英桂兰玉珍凤芝淑华建国志强海涛德福明军丽红春梅晓燕文静立新永胜金山月娥翠萍国庆学勇"
REGIONS = ("370285",) * 8 + ("370283", "370281", "370211")  # mostly born in the city itself
PHONE_PREFIXES = (
    "130 131 132 135 136 137 138 139 150 151 152 155 156 157 158 159 177 182 186".split()
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"

REFUSE_NOTES = ("申请人不属于本辖区", "所申请事项不属于本机关职权范围", "申请材料存在虚假内容")
DENY_NOTES = ("家庭人均收入高于当地保障标准", "不符合认定条件", "经核查家庭财产超过规定")
BAD_COMMENTS = ("等了太久", "工作人员态度不好", "来回跑了好几趟", "材料要求没有一次说清")
FIX_NOTES = ("已电话回访并当面说明原因", "已致歉并加快办理", "已上门补办并解释政策")


@dataclass(frozen=True)
class Mix:
    """How people behave: probabilities of each turn a request can take."""

    withdraw: float = 0.03
    refuse: float = 0.04
    supplement: float = 0.12
    gap: float = 0.05
    deny: float = 0.07
    hotline: float = 0.1
    rectify: float = 0.9
    rate_fix: float = 0.6
    rate_tiers: float = 0.5  # the resident also rates each tier that handled the request
    bad_tier: float = 0.04  # a good rating overall, one tier rated bad all the same
    unreached: float = 0.2  # the first callback finds nobody: the office calls again
    # How a bad rating is settled: 立行立改, 解释说明, or 限期整改 (fixed after its due date).
    outcomes: tuple[tuple[str, float], ...] = (
        ("fixed", 0.6),
        ("explained", 0.25),
        ("scheduled", 0.15),
    )


@dataclass(frozen=True)
class SimulationOptions:
    days: int = 3
    rate: float = 0.05
    villages: int | None = None
    seed: int | None = None
    speed: float = 1.0
    late_fraction: float = 0.05
    concurrency: int = 8
    mix: Mix = field(default_factory=Mix)


# --- residents ---------------------------------------------------------------------------------


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def fake_resident(rng: random.Random, today: date) -> dict[str, str]:
    """A resident with a plausible name, a valid ID number (born 1935 up to 18 years ago) and a
    valid mobile number. Generated, never real: the birth serials are random."""
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    earliest, latest = date(1935, 1, 1), today.replace(year=today.year - 18, day=1)
    born = earliest + timedelta(days=rng.randrange((latest - earliest).days))
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return {"name": name, "id_number": first17 + id_check_char(first17), "phone": phone}


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of per-village arrivals."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


# --- one request -------------------------------------------------------------------------------


@dataclass
class Case:
    """One resident's request as the simulation plays it, and what became of it."""

    number: int
    village: str
    township: str
    item: JSON  # the catalog entry
    rng: random.Random
    arrival: float  # in simulated working days from the start (day 2.5: the third day at noon)
    late_at: str | None
    state: JSON = field(default_factory=dict)
    supplemented: bool = False
    bad_rating: bool = False  # a 1 or 2 that counts (not the agent's unconfirmed word)
    rating_channel: str | None = None
    rectified: bool = False
    left_waiting: str | None = None
    overtaken: str | None = None  # the action time made impossible, and the stage it found
    error: str | None = None

    @property
    def id(self) -> str | None:
        return self.state.get("id")

    @property
    def stage(self) -> str:
        return str(self.state.get("stage", "not_submitted"))

    @property
    def outcome(self) -> str:
        """completed, refused, withdrawn, lapsed, in_progress, or error / not_submitted."""
        if self.error is not None:
            return "error"
        if not self.state:
            return "not_submitted"
        return self.stage if self.state.get("status") == "closed" else "in_progress"


def _gap_allowed(item: JSON) -> bool:
    """An item accepts a gap when it has a gap list and is not done on the spot."""
    return bool(item.get("gap_materials")) and item["limits"]["promised"]["limit"] >= 1


class CaseFailed(Exception):
    """An API call of one case failed; the case stops, the simulation goes on."""


class Overtaken(Exception):
    """Time has made the action impossible before the person got to it (at compressed time: a
    window lapsed, the request was deemed accepted or closed). ``state`` is the request now."""

    def __init__(self, action: str, state: JSON) -> None:
        super().__init__(f"{action} in {state.get('stage')}")
        self.action, self.state = action, state


# Needless once the acceptance window has lapsed: the request was deemed accepted meanwhile.
ACCEPTANCE = ("request_supplement", "supplement", "accept", "accept_with_gap")

# Who acts: (role, office). A desk turns a person into a token or an actor as it needs.
Person = tuple[str, str]


class Desk(Protocol):
    """Where the people of a simulation act, and how their time passes: ``ApiDesk`` through the
    HTTP API in real time (``--speed``), ``daiban/cli/county.py``'s on the request workflows at
    compressed time. Each call answers with the request's state as the API's JSON keys, or
    raises ``CaseFailed`` with ``case.error`` set."""

    def today(self) -> date: ...

    async def arrive(self, case: Case) -> None: ...

    async def think(self, case: Case, person: Person) -> None: ...

    async def submit(self, case: Case, agent: Person, body: JSON, key: str) -> JSON: ...

    async def act(self, case: Case, person: Person, action: str, fields: JSON) -> JSON: ...

    async def rate(self, case: Case, agent: Person, rating: Rating) -> JSON: ...


@dataclass(frozen=True)
class Rating:
    """What a resident says, and how: ``channel`` is one of ``CHANNEL_WEIGHTS``."""

    score: int
    channel: str
    comment: str | None = None
    tiers: dict[str, int] | None = None


def draw_rating(rng: random.Random, mix: Mix, deciding_tier: str) -> Rating:
    """A resident's rating: its score, how it is given (``CHANNEL_WEIGHTS``) and, now and then,
    the score of each tier that handled the request (``tier_scores``)."""
    score = rng.choices(list(SCORE_WEIGHTS), list(SCORE_WEIGHTS.values()))[0]
    channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
    comment = rng.choice(BAD_COMMENTS) if score <= 2 else None
    rated = rng.random() < mix.rate_tiers
    tiers = tier_scores(rng, mix, score, deciding_tier) if rated else None
    return Rating(score, channel, comment, tiers)


def tier_scores(rng: random.Random, mix: Mix, score: int, deciding_tier: str) -> dict[str, int]:
    """Scores of the tiers that handled the request, near the overall one: a bad rating names
    one tier bad (mostly the township or the city center, sometimes the village proxy room), now
    and then a good one too."""
    handled = handled_tiers(deciding_tier)
    tiers = {tier: rng.choices((5, 4, 3), (6, 3, 1))[0] for tier in handled}
    if score <= 2 or rng.random() < mix.bad_tier:
        bad = rng.choices(handled, [1] + [3] * (len(handled) - 1))[0]
        tiers[bad] = min(score, rng.choice((1, 2)))
    return tiers


class ApiDesk:
    """The API in real time: a simulated working day lasts ``DAY_SECONDS / speed`` seconds."""

    def __init__(self, http: AsyncApiClient, settings: Settings, options: SimulationOptions):
        self.http = http
        self.settings = settings
        self.options = options
        self._slots = asyncio.Semaphore(options.concurrency)
        self._tokens: dict[Person, str] = {}

    def token(self, person: Person) -> str:
        if person not in self._tokens:
            role, office = person
            sub = f"sim-{role}-{office}"
            self._tokens[person] = mint_token(self.settings, sub, role, office, TOKEN_TTL_SECONDS)
        return self._tokens[person]

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.settings.timezone)).date()

    async def arrive(self, case: Case) -> None:
        await asyncio.sleep(case.arrival * DAY_SECONDS / self.options.speed)

    async def think(self, case: Case, person: Person) -> None:
        await asyncio.sleep(case.rng.uniform(0.05, 0.6) / self.options.speed)

    async def submit(self, case: Case, agent: Person, body: JSON, key: str) -> JSON:
        call = api.submit(
            body["item"], body["resident"], body["materials"], None, body["channel"], key
        )
        return await self._send(case, call.as_(self.token(agent)))

    async def act(self, case: Case, person: Person, action: str, fields: JSON) -> JSON:
        assert case.id is not None
        return await self._send(case, api.act(case.id, action, **fields).as_(self.token(person)))

    async def rate(self, case: Case, agent: Person, rating: Rating) -> JSON:
        """By the link for the resident's own act: the made-up residents' phones are out of
        reach, so a rating confirmed with a texted code is played through the link too (both
        are the resident's own act); an unconfirmed one with the agent's token."""
        assert case.id is not None
        call = api.rate(case.id, rating.score, rating.comment, rating.tiers)
        if rating.channel == UNCONFIRMED:
            return await self._send(case, call.as_(self.token(agent)))
        link = await self._send(case, api.rating_link(case.id).as_(self.token(agent)))
        return await self._send(case, call.as_(str(link["token"])))

    async def _send(self, case: Case, call: api.Call) -> JSON:
        async with self._slots:
            try:
                return await self.http.send(call)
            except (ApiError, ApiUnreachable) as error:
                case.error = f"{call.method} {call.path}: {error}"
                raise CaseFailed from error


class Simulation:
    """The people of the demo city playing requests at a desk; ``http`` serves the setup reads
    (offices, catalog, statistics)."""

    def __init__(
        self,
        http: AsyncApiClient,
        settings: Settings,
        options: SimulationOptions,
        desk: Desk | None = None,
    ) -> None:
        self.http = http
        self.settings = settings
        self.options = options
        self.desk = desk or ApiDesk(http, settings, options)
        self.rng = random.Random(options.seed)
        self.today = self.desk.today()
        # The seed city is played; a deployment may hold other cities beside it.
        self.city = demo_city().code
        self._reader = ApiDesk(http, settings, options)

    @property
    def supervisor(self) -> str:
        return self._reader.token(("supervisor", self.city))

    async def plan(self) -> list[Case]:
        """Villages, items and arrivals, drawn from the seed before anything is sent."""
        offices = await self.http.send(api.offices().as_(self.supervisor))
        tree = OfficeTree(
            make_office(o["code"], o["name"], o["tier"], o["parent"], False)
            for o in offices["items"]
        )
        # A village's township is up past its community service center, if it has one.
        villages = [
            (o.code, tree.township_of(o.code) or "")
            for o in tree
            if o.tier == "village" and tree.city_of(o.code) == self.city
        ]
        if self.options.villages is not None and self.options.villages < len(villages):
            villages = sorted(self.rng.sample(villages, self.options.villages))
        items = (await self.http.send(api.catalog().as_(self.supervisor)))["items"]
        weights = [ITEM_WEIGHTS.get(item["code"], 1) for item in items]
        cases: list[Case] = []
        for day in range(self.options.days):
            for village, township in villages:
                for _ in range(poisson(self.rng, self.options.rate)):
                    late = self.rng.random() < self.options.late_fraction
                    cases.append(
                        Case(
                            number=len(cases) + 1,
                            village=village,
                            township=township,
                            item=self.rng.choices(items, weights)[0],
                            rng=random.Random(self.rng.getrandbits(64)),
                            arrival=day + self.rng.random(),
                            late_at=self.rng.choice(LATE_STAGES) if late else None,
                        )
                    )
        return cases

    async def stats_totals(self) -> dict[str, int]:
        """The city supervisor's ``/v1/stats``, summed over the townships."""
        stats = await self.http.send(api.stats().as_(self.supervisor))
        totals: Counter[str] = Counter()
        for office in stats["offices"]:
            totals["total"] += office["total"]
            totals["completed"] += office["completed"]
            totals["bad_ratings"] += office["ratings"].get("1", 0) + office["ratings"].get("2", 0)
            totals["agent_unconfirmed"] += office.get("agent_unconfirmed", 0)
            for name in STATS_RUNGS:
                totals[name] += office.get(name, 0)
        return {name: totals[name] for name in (*COMPARED, *STATS_RUNGS)}

    async def run(self, cases: list[Case], done: Callable[[Case], None]) -> None:
        await asyncio.gather(*(self.play(case, done) for case in cases))

    async def play(self, case: Case, done: Callable[[Case], None]) -> None:
        """One request from arrival to its end; a failure is recorded in ``case.error``."""
        try:
            await self._play(case)
        except CaseFailed:
            pass
        except Overtaken as overtaken:
            case.state, case.overtaken = overtaken.state, str(overtaken)
        done(case)

    # --- the people ----------------------------------------------------------------------------

    async def _send(self, case: Case, answer: JSON) -> JSON:
        if "stage" in answer:
            case.state = answer
        return answer

    async def _act(self, case: Case, person: Person, action: str, **fields: object) -> None:
        """``person`` takes ``action`` at their next turn; a field given as a function (a date
        counted from today) is read when they act, not when they meant to."""
        await self.desk.think(case, person)
        assert case.id is not None
        sent = {name: value() if callable(value) else value for name, value in fields.items()}
        try:
            await self._send(case, await self.desk.act(case, person, action, sent))
        except Overtaken as overtaken:
            if not (action in ACCEPTANCE and overtaken.state.get("deemed_accepted")):
                raise
            case.state = overtaken.state

    def _stops_at(self, case: Case, stage: str) -> bool:
        if case.late_at == stage:
            case.left_waiting = stage
            return True
        return False

    async def _play(self, case: Case) -> None:
        rng, mix = case.rng, self.options.mix
        agent: Person = ("agent", case.village)
        await self.desk.arrive(case)
        body = {
            "item": case.item["code"],
            "resident": fake_resident(rng, self.today),
            "materials": list(case.item["materials"]),
            "channel": "hotline" if rng.random() < mix.hotline else "proxy_room",
        }
        key = f"sim-{rng.getrandbits(64):016x}"
        await self._send(case, await self.desk.submit(case, agent, body, key))
        if self._stops_at(case, "village_intake"):
            return
        if rng.random() < mix.withdraw:
            await self._act(case, agent, "withdraw", note="居民决定暂不申请")
            return
        await self._act(case, agent, "handoff")
        if self._stops_at(case, "township_review"):
            return
        township: Person = ("township_staff", case.township)
        if not await self._review(case, township, agent):
            return
        decider = township
        if case.item["deciding_tier"] == "city":
            await self._act(case, township, "forward", note="初审通过，转报市行政服务中心")
            decider = ("city_staff", self.city)
            if not await self._review(case, decider, agent):
                return
        if rng.random() < mix.deny:
            await self._act(case, decider, "deny", note=rng.choice(DENY_NOTES))
        else:
            await self._act(case, decider, "approve")
        if self._stops_at(case, "result_delivery"):
            return
        await self._act(case, agent, "deliver")
        if self._stops_at(case, "awaiting_rating"):
            return
        await self._rate(case, agent)

    async def _review(self, case: Case, staff: Person, agent: Person) -> bool:
        """Accept (perhaps after a supplement, or with a gap) or refuse; False when refused."""
        rng, mix = case.rng, self.options.mix
        draw = rng.random()
        if draw < mix.refuse:
            await self._act(case, staff, "refuse", note=rng.choice(REFUSE_NOTES))
            return False
        materials = list(case.item["materials"])
        missing = rng.sample(materials, min(len(materials), rng.choice((1, 1, 2))))
        if draw < mix.refuse + mix.supplement:
            await self._act(case, staff, "request_supplement", missing_materials=missing)
            await self._act(case, agent, "supplement", note="材料已补齐")
            case.supplemented = True
        elif draw < mix.refuse + mix.supplement + mix.gap and _gap_allowed(case.item):
            # Only a material of the item's gap list, due the next day (never after a promised
            # deadline of a working day or more); the agent brings it before the decision.
            gap = [rng.choice(list(case.item["gap_materials"]))]
            await self._act(
                case, staff, "accept_with_gap",
                missing_materials=gap, due=partial(self._days_ahead, 1),
                commitment=f"承诺书：次日补交{gap[0]}",
            )  # fmt: skip
            await self._act(case, agent, "supply_gap")
            return True
        await self._act(case, staff, "accept")
        return True

    def _days_ahead(self, days: int) -> str:
        return (self.desk.today() + timedelta(days=days)).isoformat()

    def _role_at(self, case: Case, office: str) -> str:
        """Who works for ``office`` on this request: the village's agent, the city's or the
        township's window staff."""
        if office == case.village:
            return "agent"
        return "city_staff" if office == self.city else "township_staff"

    async def _rate(self, case: Case, agent: Person) -> None:
        rng, mix = case.rng, self.options.mix
        rating = draw_rating(rng, mix, str(case.item["deciding_tier"]))
        await self.desk.think(case, agent)
        await self._send(case, await self.desk.rate(case, agent, rating))
        case.rating_channel = (case.state.get("rating") or {}).get("channel") or rating.channel
        case.bad_rating = rating.score <= 2 and case.rating_channel != UNCONFIRMED
        if case.stage != "rectification":
            return
        if rng.random() >= mix.rectify:
            case.left_waiting = "rectification"
            return
        # The rated office (the deciding office, or the tier the resident rated bad: a village
        # proxy room's agent answers for it) calls the resident back first, again if nobody
        # answered, then explains, puts it right, or schedules the fix and makes it later.
        rated = str(case.state.get("responsible_office") or case.township)
        office: Person = (self._role_at(case, rated), rated)
        if rng.random() < mix.unreached:
            await self._act(case, office, "callback", note="电话无人接听", reached=False)
            await self.desk.think(case, office)
        await self._act(case, office, "callback", note="已电话回访", reached=True)
        names, weights = zip(*mix.outcomes, strict=True)
        outcome = rng.choices(names, weights)[0]
        if outcome == "scheduled":
            due = partial(self._days_ahead, rng.randint(3, 10))
            note = "需更换设备，限期整改"
            await self._act(case, office, "rectify", note=note, outcome=outcome, due=due)
            await self.desk.think(case, office)
            outcome = "fixed"
        await self._act(case, office, "rectify", note=rng.choice(FIX_NOTES), outcome=outcome)
        case.rectified = True
        if rng.random() < mix.rate_fix:
            await self.desk.think(case, agent)
            fix = Rating(rng.choice((3, 4, 5)), rating.channel)
            await self._send(case, await self.desk.rate(case, agent, fix))


async def simulate(
    http: AsyncApiClient, settings: Settings, options: SimulationOptions, console: Console
) -> Report:
    """Plan, play with a progress bar, and report. Raises ``ApiUnreachable``/``ApiError`` only
    when the setup calls (offices, catalog, stats) fail; a failing request is counted instead."""
    simulation = Simulation(http, settings, options)
    cases = await simulation.plan()
    before = await simulation.stats_totals()
    from daiban.cli.simreport import Report

    with progress_bar(console) as progress:
        task = progress.add_task("requests played", total=len(cases))

        def done(_case: Case) -> None:
            progress.advance(task)

        await simulation.run(cases, done)
    after = await simulation.stats_totals()
    return Report(options, cases, before, after)


def progress_bar(console: Console) -> Progress:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=console, transient=False)
