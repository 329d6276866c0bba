"""API schemas (pydantic): what the HTTP API accepts and returns (docs/api.md).

Inputs refuse unknown fields and over-long values (422); outputs only ever gain fields. The OpenAPI
document says what the API enforces, so that a client generated from it sends nothing the API
refuses: where a rule is checked in code (a resident's name, ID number and phone; the closed sets
of stages, rungs and clocks), ``_closed`` and ``_documented`` put it into the schema as well. A
``RequestOut`` is built from the workflow's ``RequestState`` by ``request_out``, which converts
times to the offices' time zone; masking happens before, in ``daiban.domain.privacy``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from datetime import date, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field, field_validator

from daiban.domain.privacy import check_id_number, check_name, check_phone
from models.actions import ACTIONS
from models.contracts import (
    COMMITMENT_SIGNERS,
    PAUSE_REASONS,
    RECTIFY_OUTCOMES,
    ClockName,
    Level,
    RequestState,
    Stage,
)

Channel = Literal["proxy_room", "hotline", "web"]
Tier = Literal["village", "community", "township", "city"]
LevelName = Literal["none", "reminder", "warning", "yellow", "red", "statutory"]
StageName = Literal[
    "village_intake", "township_review", "city_review", "awaiting_supplement", "result_delivery",
    "awaiting_rating", "rectification", "completed", "refused", "withdrawn", "lapsed",
]  # fmt: skip
# PostgreSQL text cannot hold NUL: it is refused at the door (422), not by the database (500).
NO_NUL = r"^[^\x00]*$"
# Codes, ids and cursors: no control characters at all.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Text = Annotated[str, Field(max_length=2000, pattern=NO_NUL)]
Comment = Annotated[str, Field(max_length=500, pattern=NO_NUL)]
# Text that names something: not only spaces (the action checks refuse a blank one as missing).
NOT_BLANK = r"^[^\x00]*[^\s\x00-\x1f][^\x00]*$"
Material = Annotated[str, Field(min_length=1, max_length=200, pattern=NOT_BLANK)]
OfficeCode = Annotated[str, Field(max_length=32, pattern=PRINTABLE)]
Cursor = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        pattern=PRINTABLE,
        description="the `next_cursor` of the previous page, as it came (opaque)",
    ),
]
# Times and dates in queries stay where every time zone can convert them (year 1 at +14:00, or
# 9999-12-31 plus a day, would overflow).
EARLIEST_QUERY_DAY = date(1900, 1, 1)
LATEST_QUERY_DAY = date(9998, 12, 31)


def _query_day(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_QUERY_DAY <= day <= LATEST_QUERY_DAY:
        raise ValueError(f"must lie between {EARLIEST_QUERY_DAY} and {LATEST_QUERY_DAY}")
    return value


# The same bounds in the document: the year of a date or time in a query is 1900–9998.
QUERY_YEAR = r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
QueryDate = Annotated[
    date, AfterValidator(_query_day), Field(json_schema_extra={"pattern": QUERY_YEAR})
]
QueryTime = Annotated[
    datetime, AfterValidator(_query_day), Field(json_schema_extra={"pattern": QUERY_YEAR})
]

_INPUT = ConfigDict(extra="forbid")


def _closed(values: Iterable[object], description: str = "") -> Any:
    """A string field of a closed set, as the document shows it. The values are not enforced on
    answers (a newer worker may add one: a client should show it, not fail with a 500 here)."""
    extra: dict[str, Any] = {"enum": [str(v) for v in values]}
    return Field(description=description or None, json_schema_extra=extra)


def _documented(**rules: Any) -> Any:
    """JSON Schema keywords for a rule the validators below already enforce in code."""
    return Field(json_schema_extra=rules)


STAGES = [s.value for s in Stage]
LEVELS = [level.value for level in Level]
# An escalation names its clock, or ``order``: the red card of an unanswered supervision order.
CLOCKS = [c.value for c in ClockName] + ["order"]
StageOut = Annotated[str, _closed(STAGES)]
LevelOut = Annotated[str, _closed(LEVELS)]
ClockNameOut = Annotated[str, _closed(CLOCKS)]
PauseReason = Annotated[str, _closed(PAUSE_REASONS)]
TIERS = ("village", "township", "city")
# The office tree has one more level, the community service centers that group villages.
OFFICE_TIERS = ("village", "community", "township", "city")
CHANNELS = ("proxy_room", "hotline", "web")
EVENT_KINDS = ("stage", "action", "escalation", "rating", "rectification", "notice")
# The checks of daiban.domain.privacy, as far as JSON Schema can say them: an ID number's check
# digit and birth date are named by the format ``cn-resident-id`` (GB 11643).
NAME_RULES = _documented(pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$")
ID_NUMBER_RULES = _documented(pattern=r"^[0-9]{17}[0-9X]$", format="cn-resident-id")
PHONE_RULES = _documented(pattern=r"^1[3-9][0-9]{9}$")


# --- inputs ------------------------------------------------------------------------------------


class ResidentIn(BaseModel):
    model_config = _INPUT

    name: Annotated[str, Field(min_length=1, max_length=50), NAME_RULES, AfterValidator(check_name)]
    id_number: Annotated[
        str, Field(max_length=18), ID_NUMBER_RULES, AfterValidator(check_id_number)
    ]
    phone: Annotated[str, Field(max_length=11), PHONE_RULES, AfterValidator(check_phone)]


class SubmitIn(BaseModel):
    model_config = _INPUT

    item: Annotated[str, Field(min_length=1, max_length=64)]
    resident: ResidentIn
    materials: Annotated[list[Material], Field(max_length=50)] = []
    note: Text | None = None
    channel: Channel = "proxy_room"


class ActionIn(BaseModel):
    """One action of the stage/action table; which optional fields are required depends on it."""

    model_config = _INPUT

    # The enum documents the closed set (clients and fuzzers see it); the validator below keeps
    # its own message, which names them.
    action: Annotated[
        str,
        Field(
            max_length=40,
            description="one of " + ", ".join(ACTIONS),
            json_schema_extra={"enum": list(ACTIONS)},
        ),
    ]
    note: Text | None = None
    missing_materials: Annotated[list[Material], Field(max_length=50)] | None = None
    due: date | None = None
    reason: (
        Annotated[
            str,
            Field(max_length=40, pattern=NO_NUL, description="pause: " + ", ".join(PAUSE_REASONS)),
            _closed(PAUSE_REASONS),
        ]
        | None
    ) = None
    days: Annotated[int, Field(ge=1, le=366)] | None = None
    upheld: bool | None = None
    score: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: Comment | None = None
    order: Annotated[str, Field(max_length=64, pattern=NO_NUL)] | None = None
    accepted: bool | None = None
    expected_days: Annotated[int, Field(ge=1, le=366)] | None = None
    commitment: (
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=500,
                pattern=NOT_BLANK,
                description="accept_with_gap: the resident's written commitment (承诺书) as "
                "recorded, its reference or a short text",
            ),
        ]
        | None
    ) = None
    commitment_by: (
        Annotated[
            str,
            Field(
                max_length=16,
                description="accept_with_gap: who signed the commitment, the resident (default) "
                "or the agent on the resident's authorisation",
            ),
            _closed(COMMITMENT_SIGNERS),
        ]
        | None
    ) = None
    authorisation: (
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=200,
                pattern=NOT_BLANK,
                description="accept_with_gap: the resident's authorisation (授权委托书) the agent "
                "holds; required when commitment_by is agent",
            ),
        ]
        | None
    ) = None
    outcome: (
        Annotated[
            str,
            Field(
                max_length=20,
                pattern=NO_NUL,
                description="rectify: fixed (立行立改), explained (解释说明) or scheduled "
                "(限期整改, with due)",
            ),
            _closed(RECTIFY_OUTCOMES),
        ]
        | None
    ) = None
    reached: bool | None = Field(None, description="callback: the resident was reached")

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in ACTIONS:
            raise ValueError(f"unknown action; one of {', '.join(ACTIONS)}")
        return value


Score = Annotated[int, Field(ge=1, le=5)]


class TiersIn(BaseModel):
    """The resident's score of each tier that handled the request; each optional."""

    model_config = _INPUT

    village: Score | None = Field(None, description="the village proxy room (村代办点)")
    township: Score | None = Field(None, description="the township center (镇便民服务中心)")
    city: Score | None = Field(None, description="the city center (市行政审批服务中心)")

    def given(self) -> dict[str, int]:
        return {tier: score for tier, score in self.model_dump().items() if score is not None}


class RatingIn(BaseModel):
    """The resident's rating. The channel is never part of it: the API decides it from what it
    verified (a rating link, a confirmation code, or neither)."""

    model_config = _INPUT

    score: Score
    comment: Comment | None = None
    tiers: TiersIn | None = Field(
        None, description="only tiers that handled the request (the city only for city items)"
    )
    confirmation_code: (
        Annotated[
            str,
            Field(
                pattern=r"^\d{4,8}$",
                description="the code sent to the resident's phone (rating-code); agents only",
            ),
        ]
        | None
    ) = None


class RatingCodeOut(BaseModel):
    request_id: str
    phone: str = Field(description="the resident's phone it was sent to, masked")
    expires_at: datetime
    attempts: int = Field(description="wrong tries before the code no longer works")


class ListQuery(BaseModel):
    stage: StageName | None = None
    office: OfficeCode | None = None
    township: OfficeCode | None = None
    community: OfficeCode | None = None  # a community service center
    item: Annotated[str, Field(max_length=64, pattern=PRINTABLE)] | None = None
    overdue: LevelName | Literal["any"] | None = None
    created_from: QueryTime | None = None
    created_to: QueryTime | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class PageQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class EventsQuery(PageQuery):
    request: Annotated[str, Field(max_length=64, pattern=PRINTABLE)] | None = None
    level: LevelName | None = None
    office: OfficeCode | None = None
    since: QueryTime | None = None


class StatsQuery(BaseModel):
    township: OfficeCode | None = None
    community: OfficeCode | None = None  # one row: this community service center
    from_: QueryDate | None = Field(None, alias="from")
    to: QueryDate | None = None


class OfficesQuery(BaseModel):
    tier: Tier | None = None
    parent: OfficeCode | None = None


# --- outputs -----------------------------------------------------------------------------------


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = Field(None, description="422: [{field, message}]")
    allowed_actions: list[str] | None = Field(None, description="409: what is allowed now")
    stage: StageOut | None = Field(None, description="409: the request's stage now")


class ResidentOut(BaseModel):
    name: str
    id_number: str
    phone: str


class HistoryOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    at: datetime
    actor: str
    role: str
    action: str
    from_stage: StageOut | None = Field(None, alias="from")
    to_stage: StageOut | None = Field(None, alias="to")
    note: str | None = None

    # The ledger's names for the same two stages, beside the first names (which stay).
    @computed_field(alias="from_stage", json_schema_extra={"enum": [*STAGES, None]})
    def from_stage_name(self) -> str | None:
        return self.from_stage

    @computed_field(alias="to_stage", json_schema_extra={"enum": [*STAGES, None]})
    def to_stage_name(self) -> str | None:
        return self.to_stage


class EscalationOut(BaseModel):
    at: datetime
    clock: ClockNameOut
    level: LevelOut
    deadline: datetime
    office: str


class ClockOut(BaseModel):
    """A running clock and the instants of its escalation ladder (docs/design.md §2–§3)."""

    name: ClockNameOut
    office: str = Field(description="the office the clock runs against")
    started_at: datetime
    deadline: datetime
    provisional: bool = Field(description="the calendar has no data yet for part of the period")
    statutory: datetime | None
    reminder_at: datetime | None
    yellow_at: datetime | None
    warning_at: datetime | None = None
    fired: list[str] = Field(description="rungs already fired")


ORDER_STATUSES = ("open", "replied", "closed")


class OrderOut(BaseModel):
    """A supervision order (督办单) of a request (docs/design.md §3)."""

    number: str | None = Field(
        description="gapless per issuing office and year; none until recorded"
    )
    issuing_office: str
    office: str = Field(description="the office it is addressed to")
    reason: str
    issued_at: datetime
    issued_by: str
    respond_by: datetime
    clock: ClockNameOut | None = Field(description="the clock whose yellow card issued it")
    status: Annotated[str, _closed(ORDER_STATUSES)]
    reply: str | None
    replied_at: datetime | None
    returned: int = Field(description="times the issuing office returned a reply")
    overdue: bool = Field(description="its response deadline passed unanswered: a red card")
    outcome: Annotated[str, _closed(("accepted", "request_closed"))] | None
    closed_at: datetime | None


class OrderListOut(OrderOut):
    request_id: str
    township: str


class OrderPage(BaseModel):
    items: list[OrderListOut]
    next_cursor: str | None


class OrdersQuery(PageQuery):
    status: Literal["open", "replied", "closed"] | None = None
    office: OfficeCode | None = None
    township: OfficeCode | None = None
    overdue: bool | None = None


class PauseOut(BaseModel):
    reason: PauseReason
    since: datetime
    note: str | None = None


class ExtensionOut(BaseModel):
    days: int
    reason: str
    requested_at: datetime
    status: str
    new_deadline: datetime | None = None


class RatingOut(BaseModel):
    score: int
    at: datetime
    comment: str | None = None
    is_default: bool = False
    fix_score: int | None = None
    appeal: str = "none"
    channel: str = Field(
        "",
        description="link, sms_code, agent_unconfirmed (never in the satisfaction rate) or "
        "default; empty for ratings given before channels were recorded",
        json_schema_extra={"enum": ["link", "sms_code", "agent_unconfirmed", "default", ""]},
    )
    tiers: dict[str, int] = Field(
        default_factory=dict, description="scores of the tiers rated: village, township, city"
    )


class GapOut(BaseModel):
    """An accept-with-gap (容缺受理): the materials due, the commitment, and how it ended."""

    materials: list[str]
    due: date = Field(description="the materials arrive by the office's closing time that day")
    commitment: str
    commitment_by: Annotated[str, _closed(COMMITMENT_SIGNERS)]
    authorisation: str | None = None
    office: str
    opened_at: datetime
    status: Annotated[str, _closed(("open", "supplied", "lapsed", "closed"))]
    supplied_at: datetime | None = None
    supplied_by: str | None = None


class CallbackOut(BaseModel):
    at: datetime
    by: str
    reached: bool
    note: str | None = None


class RectificationOut(BaseModel):
    """The rectification of a bad rating: the rated office, its callbacks, how it settled."""

    office: str = Field(description="the rated office: it calls back, settles and may appeal")
    opened_at: datetime
    callback_by: datetime | None = Field(description="the callback limit (回访期限)")
    callbacks: list[CallbackOut]
    outcome: Annotated[str, _closed(RECTIFY_OUTCOMES)] | None
    due: date | None = Field(description="a scheduled fix's due date (限期整改)")
    appeal_by: datetime | None = Field(description="the end of the appeal window")
    appeal_reviewer: str | None = Field(description="the office whose supervisor reviews it")


class RequestOut(BaseModel):
    id: str
    number: str = Field(
        "", description="the 办件编号 people quote (city-date-sequence); empty for older requests"
    )
    item: str
    item_name: str
    deciding_tier: Annotated[str, _closed(TIERS)]
    village: str
    township: str
    city: str
    stage: StageOut
    status: Annotated[str, _closed(("open", "closed"))]
    responsible_office: str
    handling_office: str | None
    channel: Annotated[str, _closed(CHANNELS)]
    deadline: datetime | None
    deadline_provisional: bool
    expected_at: datetime | None
    overdue: LevelOut
    red_flag: bool
    paused: PauseOut | None
    resident: ResidentOut
    materials: list[str]
    missing_materials: list[str]
    gap_due: date | None
    gap: GapOut | None = Field(None, description="the accept-with-gap, under the gap rules")
    gap_materials: list[str] = Field(
        default_factory=list, description="the item's gap list: what may be missing at 容缺受理"
    )
    note: str | None
    decision: Annotated[str, _closed(("approved", "denied"))] | None
    decided_at: datetime | None
    on_time: bool | None
    accepted_at: datetime | None
    deemed_accepted: bool
    extension: ExtensionOut | None
    rating: RatingOut | None
    rectified: bool | None
    rectification: RectificationOut | None = Field(
        None, description="a bad rating's callbacks and settlement; null before callbacks"
    )
    service_notice: str
    history: list[HistoryOut]
    escalations: list[EscalationOut]
    clocks: list[ClockOut] = Field(description="running clocks with their ladder instants")
    orders: list[OrderOut] = Field(default_factory=list, description="supervision orders")
    allowed_actions: list[str] = Field(description="the actions the caller may take now")
    created_at: datetime
    updated_at: datetime
    version: int


class RequestSummary(BaseModel):
    id: str
    number: str | None = Field(None, description="the 办件编号; null for older requests")
    item: str
    village: str
    township: str
    stage: StageOut
    status: Annotated[str, _closed(("open", "closed"))]
    responsible_office: str
    deadline: datetime | None
    deadline_provisional: bool
    expected_at: datetime | None
    overdue: LevelOut
    red_flag: bool
    decision: Annotated[str, _closed(("approved", "denied"))] | None
    rating_score: int | None
    gap_due: date | None = Field(
        None, description="an open gap's due date (容缺受理): its materials are awaited by then"
    )
    resident: ResidentOut = Field(description="always masked in lists")
    created_at: datetime
    updated_at: datetime


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None


class LedgerEventOut(BaseModel):
    id: int
    request_id: str
    seq: int
    at: datetime
    kind: Annotated[str, _closed(EVENT_KINDS)]
    action: str | None
    level: LevelOut | None
    clock: ClockNameOut | None
    actor: str
    role: str
    office: str
    from_stage: StageOut | None
    to_stage: StageOut | None
    deadline: datetime | None
    note: str | None
    hash: str


class EventPage(BaseModel):
    items: list[LedgerEventOut]
    next_cursor: str | None


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    broken: list[int] = Field(description="ids of ledger rows whose chain is broken")


class OfficeStats(BaseModel):
    office: str = Field(description="the township: every request belongs to exactly one")
    name: str | None
    total: int
    completed: int
    on_time_rate: float | None = Field(description="decided on time / decided")
    avg_working_days: float | None = Field(description="acceptance to decision, working days")
    reminder: int
    yellow: int
    red: int
    ratings: dict[str, int] = Field(
        description='counts of scores "1".."5" as given (agent_unconfirmed ratings counted apart)'
    )
    satisfaction_rate: float | None = Field(
        description="ratings 3-5 / ratings, of the resident's own act and defaults only, without "
        "ratings whose appeal was upheld"
    )
    rectified_rate: float | None = Field(
        description="rectified / bad ratings (1-2), without ratings whose appeal was upheld"
    )
    bad_rate: float | None = Field(
        None, description="bad ratings (1-2) / ratings, without upheld appeals"
    )
    callback_rate: float | None = Field(
        None,
        description="bad ratings whose resident the rated office reached by a callback (回访) "
        "within the callback limit / bad ratings that owed a callback (rated since callbacks "
        "are recorded), without upheld appeals; null when none owed one",
    )
    appeals_upheld: int = Field(
        0, description="ratings taken out of the rates by an upheld appeal (still in the ledger)"
    )
    agent_unconfirmed: int = Field(
        0,
        description="ratings the agent entered without the resident's code: kept, counted "
        "apart, never in ratings or the rates",
    )
    orders_issued: int = Field(description="supervision orders issued over these requests")
    orders_overdue: int = Field(description="of those, orders that passed their response deadline")


class StatsOut(BaseModel):
    offices: list[OfficeStats]


class RatedOfficeStats(BaseModel):
    """One office's ratings by the residents it served (好差评, "谁办理、谁负责")."""

    office: str = Field(description="a village proxy room, township center or city center")
    name: str | None
    tier: Annotated[str, _closed(OFFICE_TIERS)]
    rated: int = Field(
        description="requests on which the office was rated: its tier's score where the resident "
        "gave one, else the overall score when the office decided the request; ratings by the "
        "resident's own act and defaults, without upheld appeals"
    )
    ratings: dict[str, int] = Field(description='counts of scores "1".."5"')
    bad: int = Field(description="ratings of 1 or 2 (差评)")
    satisfaction_rate: float | None = Field(description="ratings of 3–5 over ratings")
    bad_rate: float | None = Field(description="ratings of 1–2 over ratings")


class RatedOfficesOut(BaseModel):
    offices: list[RatedOfficeStats]


class OfficeOut(BaseModel):
    code: str
    name: str
    tier: Annotated[str, _closed(OFFICE_TIERS)]
    parent: str | None


class OfficeList(BaseModel):
    items: list[OfficeOut]


class RatingLinkOut(BaseModel):
    token: str
    request_id: str
    expires_in: int


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


# --- conversion --------------------------------------------------------------------------------


def _local(value: Any, tz: tzinfo) -> Any:
    """Times leave the API in the offices' zone (ISO 8601 with offset, e.g. +08:00); dataclasses
    become dicts on the way (``asdict`` would deep-copy every field first)."""
    if isinstance(value, datetime):
        return value.astimezone(tz)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _local(getattr(value, f.name), tz) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _local(v, tz) for k, v in value.items()}
    if isinstance(value, list):
        return [_local(v, tz) for v in value]
    return value


def request_out(state: RequestState, allowed: list[str], tz: tzinfo) -> RequestOut:
    """The API shape of a (possibly masked) state."""
    data = _local(state, tz)
    return RequestOut.model_validate({**data, "allowed_actions": allowed})


def summary_out(row: Any, resident: ResidentOut, tz: tzinfo) -> RequestSummary:
    derived = ("resident", "gap_due")
    data = {name: getattr(row, name) for name in RequestSummary.model_fields if name not in derived}
    gap = (row.state or {}).get("gap") or {}
    due = gap.get("due") if gap.get("status") == "open" else None
    return RequestSummary.model_validate({**_local(data, tz), "resident": resident, "gap_due": due})
