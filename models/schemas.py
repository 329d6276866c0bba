"""API schemas (pydantic): what the HTTP API accepts and returns (shared/API.md).

Inputs refuse unknown fields and over-long values (422); outputs only ever gain fields. A
``RequestOut`` is built from the workflow's ``RequestState`` by ``request_out``, which converts
times to the offices' time zone; masking happens before, in ``daiban.domain.privacy``.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from daiban.domain.privacy import check_id_number, check_name, check_phone
from models.actions import ACTIONS
from models.contracts import PAUSE_REASONS, RequestState

Channel = Literal["proxy_room", "hotline", "web"]
Tier = Literal["village", "community", "township", "city"]
LevelName = Literal["none", "reminder", "yellow", "red", "statutory"]
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
Material = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
OfficeCode = Annotated[str, Field(max_length=32, pattern=PRINTABLE)]
Cursor = Annotated[str, Field(max_length=500, pattern=PRINTABLE)]
# Times and dates in queries stay where every time zone can convert them (year 1 at +14:00, or
# 9999-12-31 plus a day, would overflow).
EARLIEST_QUERY_DAY = date(1900, 1, 1)
LATEST_QUERY_DAY = date(9998, 12, 31)


def _query_day(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_QUERY_DAY <= day <= LATEST_QUERY_DAY:
        raise ValueError(f"must lie between {EARLIEST_QUERY_DAY} and {LATEST_QUERY_DAY}")
    return value


QueryDate = Annotated[date, AfterValidator(_query_day)]
QueryTime = Annotated[datetime, AfterValidator(_query_day)]

_INPUT = ConfigDict(extra="forbid")


# --- inputs ------------------------------------------------------------------------------------


class ResidentIn(BaseModel):
    model_config = _INPUT

    name: Annotated[str, Field(max_length=50), AfterValidator(check_name)]
    id_number: Annotated[str, Field(max_length=18), AfterValidator(check_id_number)]
    phone: Annotated[str, Field(max_length=11), AfterValidator(check_phone)]


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
    reason: Annotated[
        str | None,
        Field(max_length=40, pattern=NO_NUL, description="pause: " + ", ".join(PAUSE_REASONS)),
    ] = None
    days: Annotated[int, Field(ge=1, le=366)] | None = None
    upheld: bool | None = None
    score: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: Comment | None = None

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in ACTIONS:
            raise ValueError(f"unknown action; one of {', '.join(ACTIONS)}")
        return value


class RatingIn(BaseModel):
    model_config = _INPUT

    score: Annotated[int, Field(ge=1, le=5)]
    comment: Comment | None = None


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
    from_stage: str | None = Field(None, alias="from")
    to_stage: str | None = Field(None, alias="to")
    note: str | None = None


class EscalationOut(BaseModel):
    at: datetime
    clock: str
    level: str
    deadline: datetime
    office: str


class ClockOut(BaseModel):
    """A running clock and the instants of its escalation ladder (DESIGN §2–§3)."""

    name: str = Field(description="handoff, acceptance, step, official, supplement, gap, ...")
    office: str = Field(description="the office the clock runs against")
    started_at: datetime
    deadline: datetime
    provisional: bool = Field(description="the calendar has no data yet for part of the period")
    statutory: datetime | None
    reminder_at: datetime | None
    yellow_at: datetime | None
    fired: list[str] = Field(description="rungs already fired")


class PauseOut(BaseModel):
    reason: str
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


class RequestOut(BaseModel):
    id: str
    item: str
    item_name: str
    deciding_tier: str
    village: str
    township: str
    city: str
    stage: str
    status: str
    responsible_office: str
    handling_office: str | None
    channel: str
    deadline: datetime | None
    deadline_provisional: bool
    expected_at: datetime | None
    overdue: str
    red_flag: bool
    paused: PauseOut | None
    resident: ResidentOut
    materials: list[str]
    missing_materials: list[str]
    gap_due: date | None
    note: str | None
    decision: str | None
    decided_at: datetime | None
    on_time: bool | None
    accepted_at: datetime | None
    deemed_accepted: bool
    extension: ExtensionOut | None
    rating: RatingOut | None
    rectified: bool | None
    service_notice: str
    history: list[HistoryOut]
    escalations: list[EscalationOut]
    clocks: list[ClockOut] = Field(description="running clocks with their ladder instants")
    allowed_actions: list[str] = Field(description="the actions the caller may take now")
    created_at: datetime
    updated_at: datetime
    version: int


class RequestSummary(BaseModel):
    id: str
    item: str
    village: str
    township: str
    stage: str
    status: str
    responsible_office: str
    deadline: datetime | None
    deadline_provisional: bool
    expected_at: datetime | None
    overdue: str
    red_flag: bool
    decision: str | None
    rating_score: int | None
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
    kind: str
    action: str | None
    level: str | None
    clock: str | None
    actor: str
    role: str
    office: str
    from_stage: str | None
    to_stage: str | None
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
    ratings: dict[str, int] = Field(description='counts of scores "1".."5"')
    satisfaction_rate: float | None = Field(description="ratings 3-5 / all ratings")
    rectified_rate: float | None = Field(description="rectified / bad ratings (1-2)")


class StatsOut(BaseModel):
    offices: list[OfficeStats]


class OfficeOut(BaseModel):
    code: str
    name: str
    tier: str
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
    data = {name: getattr(row, name) for name in RequestSummary.model_fields if name != "resident"}
    return RequestSummary.model_validate({**_local(data, tz), "resident": resident})
