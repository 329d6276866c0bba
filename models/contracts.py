"""Contracts: the stdlib dataclasses that cross the workflow boundary.

Everything the workflow receives, holds, returns or hands to an activity is defined here, so the
workflow, the activities and the API agree on one shape. Fields are only ever added, with
defaults, so that running workflows keep decoding their histories.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    VILLAGE_INTAKE = "village_intake"
    TOWNSHIP_REVIEW = "township_review"
    CITY_REVIEW = "city_review"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    RESULT_DELIVERY = "result_delivery"
    AWAITING_RATING = "awaiting_rating"
    RECTIFICATION = "rectification"
    COMPLETED = "completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"


CLOSED_STAGES = frozenset({Stage.COMPLETED, Stage.REFUSED, Stage.WITHDRAWN, Stage.LAPSED})
REVIEW_STAGES = frozenset({Stage.TOWNSHIP_REVIEW, Stage.CITY_REVIEW})


class Role(StrEnum):
    AGENT = "agent"
    TOWNSHIP_STAFF = "township_staff"
    CITY_STAFF = "city_staff"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SYSTEM = "system"


class Level(StrEnum):
    """The escalation ladder of docs/design.md §3, in rising order."""

    NONE = "none"
    REMINDER = "reminder"
    WARNING = "warning"  # the county ladder's optional early warning (预警)
    YELLOW = "yellow"
    RED = "red"
    STATUTORY = "statutory"


LEVEL_ORDER = {level: i for i, level in enumerate(Level)}


class ClockName(StrEnum):
    HANDOFF = "handoff"
    ACCEPTANCE = "acceptance"
    STEP = "step"
    OFFICIAL = "official"
    SUPPLEMENT = "supplement"
    GAP = "gap"
    DELIVERY = "delivery"
    RATING = "rating"
    RECTIFICATION = "rectification"
    FIX_RATING = "fix_rating"
    CALLBACK = "callback"  # the rated office calls the resident back (回访)
    RECTIFY_DUE = "rectify_due"  # a scheduled fix (限期整改) is due
    APPEAL = "appeal"  # the rated office may appeal the rating (申诉)


class Expiry(StrEnum):
    """What happens when a clock's deadline passes."""

    ESCALATE = "escalate"  # red card (and the ladder before it); the work goes on
    DEEM_ACCEPTED = "deem_accepted"  # acceptance window: deemed accepted as of arrival
    LAPSE = "lapse"  # supplement window: the request closes as lapsed
    DEFAULT_RATING = "default_rating"  # rating window: the configured default applies
    NOTICE = "notice"  # accept-with-gap due date, before the gap rules: notify the office
    GAP_LAPSE = "gap_lapse"  # accept-with-gap due date: unsupplied, the request closes as lapsed
    CLOSE = "close"  # fix-rating window: nothing more to wait for


class RatingChannel(StrEnum):
    """How a rating was given (docs/design.md §4): by the resident's own act, or not."""

    LINK = "link"  # the single-use rating link sent to the resident's phone (or its QR code)
    SMS_CODE = "sms_code"  # the agent's device, with the code sent to the resident's phone
    AGENT_UNCONFIRMED = "agent_unconfirmed"  # entered by the agent without that code
    DEFAULT = "default"  # the rating window passed


# The channels whose ratings enter the satisfaction rate: the resident's own act and defaults.
COUNTED_CHANNELS = frozenset({RatingChannel.LINK, RatingChannel.SMS_CODE, RatingChannel.DEFAULT})
# The tiers a resident may rate, in the order of the request's way up.
RATED_TIERS = ("village", "township", "city")
# A notification's recipient role for the resident's own phone (the office is the village).
RESIDENT_RECIPIENT = "resident"


PAUSE_REASONS = ("hearing", "expert_review", "inspection", "appraisal", "public_notice")
# How a bad rating is settled (docs/design.md §4): fixed at once (立行立改), explained (解释说明,
# the complaint has no legal basis) or scheduled (限期整改: by a due date, then ``fixed``).
RECTIFY_OUTCOMES = ("fixed", "explained", "scheduled")


@dataclass
class Actor:
    sub: str
    role: str
    office: str


@dataclass
class Resident:
    name: str
    id_number: str
    phone: str


@dataclass
class LimitSpec:
    limit: int
    unit: str = "working"  # "working" | "natural"


@dataclass
class ItemSpec:
    """A snapshot of the catalog item taken at submission: later catalog edits never reach a
    running request."""

    code: str
    name: str
    deciding_tier: str  # "township" | "city"
    promised: LimitSpec
    statutory: LimitSpec | None = None
    materials: list[str] = field(default_factory=list)
    # The lawful extension (延期) of the statutory limit, granted once; None: the rules allow none.
    extension: LimitSpec | None = None
    # The materials that may be missing at a 容缺受理 (its gap list); empty: no gap is accepted.
    gap_materials: list[str] = field(default_factory=list)


@dataclass
class LadderPolicy:
    """The county's escalation ladder (docs/design.md §3): a reminder before the deadline, an
    optional warning at a share of the limit's office time, a yellow card with a supervision order
    when the deadline passes, a red card when the order goes unanswered. No rung fires outside
    office hours (``opening`` to the calendar's closing time, on working days)."""

    reminder_days: int = 1
    warning_share: float | None = None  # None: no warning rung
    order_response_days: int = 2
    opening: str = "08:30"  # HH:MM, local


@dataclass
class Policy:
    """The windows and thresholds of docs/design.md §2–§4, snapshotted at submission from the
    settings."""

    agent_handoff_days: int = 2
    acceptance_window_days: int = 5
    township_step_days: int = 5
    township_step_statutory_days: int = 20
    delivery_days: int = 2
    supplement_window_natural_days: int = 30
    rating_window_natural_days: int = 7
    rectification_days: int = 5
    reminder_days: int = 1
    yellow_fraction: float = 0.9
    default_rating: int = 3
    # Rectification of a bad rating (docs/design.md §4): the callback limit (working days), the
    # appeal window (working days from the rating) and how far a scheduled fix may be promised
    # (natural days). Snapshots taken before them read these defaults.
    callback_days: int = 1
    appeal_days: int = 5
    rectify_due_max_days: int = 30
    # The county ladder; None in the snapshots of requests submitted before it, which keep the
    # earlier one (a yellow card at ``yellow_fraction`` of the limit, a red card at the deadline).
    ladder: LadderPolicy | None = None


@dataclass
class RequestInput:
    request_id: str
    item: ItemSpec
    village: str
    township: str
    city: str
    resident: Resident
    agent: Actor
    materials: list[str] = field(default_factory=list)
    note: str | None = None
    channel: str = "proxy_room"
    policy: Policy = field(default_factory=Policy)
    number: str = ""  # the 办件编号 the API gave (empty for requests registered before)


# --- state -------------------------------------------------------------------------------------


@dataclass
class ClockQuery:
    """Compute one clock: chain the steps from ``start`` (each step starts where the last ended)."""

    name: str
    start: datetime
    steps: list[LimitSpec]
    statutory_steps: list[LimitSpec] | None = None
    ladder: bool = True
    # Instead of steps: the closing time of this date (rolled to the next working day).
    until: str | None = None  # ISO date
    # When computing again: working days added by pauses (deadline and statutory) and by an
    # extension (deadline only, never past the statutory deadline).
    paused_days: int = 0
    extended_days: int = 0
    # Start where this clock of the same batch ends instead of at ``start`` (the promise to the
    # resident after an extension: the official deadline, then delivery).
    after: str | None = None
    # The lawful extension granted: the statutory deadline moves out by it (and caps the deadline).
    statutory_extension: LimitSpec | None = None


@dataclass
class Clock:
    name: str
    office: str
    started_at: datetime
    deadline: datetime
    provisional: bool = False
    statutory: datetime | None = None
    reminder_at: datetime | None = None
    yellow_at: datetime | None = None
    expiry: str = Expiry.ESCALATE
    fired: list[str] = field(default_factory=list)
    # How the clock was computed, so that it can be computed again when the calendar data
    # changes (docs/design.md §2: provisional deadlines are recomputed when the year is loaded).
    query: ClockQuery | None = None
    paused_days: int = 0  # working days added by pauses (deadline and statutory)
    extended_days: int = 0  # working days added by an approved extension (deadline only)
    warning_at: datetime | None = None
    # Rungs of the county ladder: the yellow card at the deadline, no red card at the deadline.
    county: bool = False
    statutory_extension: LimitSpec | None = None  # the lawful extension granted to this clock


@dataclass
class SupervisionOrder:
    """A supervision order (督办单): issued by a yellow card or by a supervisor, answered by the
    addressed office, accepted or returned by the issuing office (docs/design.md §3)."""

    key: str  # the request's own name for it, stable from issue
    issuing_office: str
    office: str  # the office it is addressed to
    reason: str
    issued_at: datetime
    issued_by: str
    respond_by: datetime
    clock: str | None = None  # the clock whose yellow card issued it
    number: str | None = None  # gapless per issuing office and year, assigned when recorded
    status: str = "open"  # open | replied | closed
    reply: str | None = None
    replied_at: datetime | None = None
    replied_by: str | None = None
    returned: int = 0  # times the issuing office returned a reply
    overdue: bool = False  # its red card fired
    outcome: str | None = None  # accepted | request_closed
    closed_at: datetime | None = None


@dataclass
class HistoryEntry:
    at: datetime
    actor: str
    role: str
    action: str
    from_stage: str | None
    to_stage: str | None
    note: str | None = None


@dataclass
class Escalation:
    at: datetime
    clock: str
    level: str
    deadline: datetime
    office: str


@dataclass
class PauseInfo:
    reason: str
    since: datetime
    note: str | None = None
    expected_days: int | None = None  # told to the resident (特别程序告知书)


# Who signed the written commitment (承诺书) of a gap: the resident, or the agent on the
# resident's written authorisation (授权委托书).
COMMITMENT_SIGNERS = ("resident", "agent")


@dataclass
class GapInfo:
    """An accept-with-gap (容缺受理) under the published rules (docs/design.md §4a): what is
    missing, by when, and the commitment that stands for it until it arrives."""

    materials: list[str]
    due: str  # ISO date: the materials arrive by the office's closing time of that day
    commitment: str  # the 承诺书 as recorded: its reference or a short text
    office: str  # the office that accepted with the gap and waits for it
    opened_at: datetime
    commitment_by: str = "resident"  # one of COMMITMENT_SIGNERS
    authorisation: str | None = None  # the 授权委托书 the agent holds, when the agent signed
    status: str = "open"  # open | supplied | lapsed | closed (decided or withdrawn while open)
    supplied_at: datetime | None = None
    supplied_by: str | None = None


@dataclass
class ExtensionInfo:
    days: int
    reason: str
    requested_by: str
    requested_at: datetime
    status: str = "pending"  # pending | approved
    approved_by: str | None = None
    new_deadline: datetime | None = None


@dataclass
class RatingInfo:
    score: int
    at: datetime
    comment: str | None = None
    is_default: bool = False
    fix_score: int | None = None
    appeal: str = "none"  # none | pending | upheld | rejected
    # How the rating was given (``RatingChannel``), decided by the API from verified facts; empty
    # for ratings given before channels were recorded.
    channel: str = ""
    # The resident's score of each tier that handled the request (``village``, ``township``,
    # ``city``), as many as the resident chose to rate.
    tiers: dict[str, int] = field(default_factory=dict)


@dataclass
class CallbackInfo:
    """One call of the rated office to the resident (回访), reached or not."""

    at: datetime
    by: str
    reached: bool
    note: str | None = None


@dataclass
class RectificationInfo:
    """The rectification of a bad rating (docs/design.md §4): who was rated, their callbacks and
    how they settled it. None on requests rated before callbacks existed (one ``rectify``)."""

    office: str  # the rated office: it calls back, settles and may appeal
    opened_at: datetime
    callback_by: datetime | None = None  # the callback limit's deadline
    callbacks: list[CallbackInfo] = field(default_factory=list)
    outcome: str | None = None  # fixed | explained | scheduled, the latest one
    due: str | None = None  # ISO date of a scheduled fix
    appeal_by: datetime | None = None  # the end of the appeal window
    appeal_reviewer: str | None = None  # the office above the rated one, which reviews it

    def reached_in_time(self) -> bool:
        """The resident was reached by a callback within the limit (the callback rate's part)."""
        return any(
            c.reached and (self.callback_by is None or c.at <= self.callback_by)
            for c in self.callbacks
        )


@dataclass
class RequestState:
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
    resident: Resident
    agent: str
    channel: str
    created_at: datetime
    updated_at: datetime
    materials: list[str] = field(default_factory=list)
    missing_materials: list[str] = field(default_factory=list)
    gap_due: str | None = None  # ISO date
    note: str | None = None
    deadline: datetime | None = None
    deadline_provisional: bool = False
    expected_at: datetime | None = None
    overdue: str = Level.NONE
    red_flag: bool = False
    paused: PauseInfo | None = None
    decision: str | None = None
    decided_at: datetime | None = None
    on_time: bool | None = None
    arrived_at: datetime | None = None
    accepted_at: datetime | None = None
    deemed_accepted: bool = False
    handling_office: str | None = None
    supplement_return: str | None = None
    extension: ExtensionInfo | None = None
    rating: RatingInfo | None = None
    rectified: bool | None = None
    service_notice: str = ""
    history: list[HistoryEntry] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    clocks: list[Clock] = field(default_factory=list)
    version: int = 0
    number: str = ""
    orders: list[SupervisionOrder] = field(default_factory=list)
    # Submitted under the county ladder: supervision orders exist (docs/design.md §3).
    county_ladder: bool = False
    # The item's lawful extension, for requests whose extensions move the statutory deadline
    # (None: the item allows none, or the request started before they did).
    lawful_extension: LimitSpec | None = None
    # Submitted under the published gap rules (docs/design.md §4a): only the item's gap list may be
    # missing, a commitment is recorded, no decision while the gap is open, an unsupplied gap
    # lapses. Requests started before keep the reminder on the due date.
    gap_rules: bool = False
    gap_materials: list[str] = field(default_factory=list)  # the item's gap list, snapshotted
    gap: GapInfo | None = None
    rectification: RectificationInfo | None = None
    # The rating links and confirmation codes a rating was given with: each rates once.
    rating_proofs: list[str] = field(default_factory=list)


# --- updates -----------------------------------------------------------------------------------


@dataclass
class ActionCommand:
    """One staff/agent action (the Update argument). Optional fields are required by some actions;
    the stage/action table in ``models.actions`` says which."""

    action: str
    actor: Actor
    note: str | None = None
    missing_materials: list[str] | None = None
    due: str | None = None  # ISO date (YYYY-MM-DD)
    reason: str | None = None
    days: int | None = None
    upheld: bool | None = None
    score: int | None = None
    comment: str | None = None
    # Minted by the API for every command: the request it is for and a single-use id. Inside the
    # encrypted payload, so that nobody can bind a command to another request (docs/design.md §6).
    request_id: str | None = None
    command_id: str | None = None
    order: str | None = None  # a supervision order's number (reply_order, review_order)
    accepted: bool | None = None  # review_order: the reply is accepted, or returned
    expected_days: int | None = None  # pause: how long the special procedure is expected to take
    # accept_with_gap: the resident's written commitment (承诺书), its reference or a short text;
    # who signed it (COMMITMENT_SIGNERS); the agent's authorisation when the agent signed.
    commitment: str | None = None
    commitment_by: str | None = None
    authorisation: str | None = None
    outcome: str | None = None  # rectify: one of ``RECTIFY_OUTCOMES``
    reached: bool | None = None  # callback: the resident was reached
    tiers: dict[str, int] | None = None  # rate: the resident's score of each tier rated
    # rate: set by the API alone, from what it verified (a rating link, a confirmation code):
    # the channel and the id of the link or code, which rates once.
    rating_channel: str | None = None
    rating_proof: str | None = None


# --- activities --------------------------------------------------------------------------------


@dataclass
class ShiftQuery:
    """Move a running clock out by the working days between ``since`` and ``until`` (a pause)
    plus ``extra_days`` (an extension), capped at ``cap`` when given."""

    name: str
    start: datetime
    deadline: datetime
    statutory: datetime | None
    since: datetime | None = None
    until: datetime | None = None
    extra_days: int = 0
    cap: datetime | None = None
    ladder: bool = True
    # A lawful extension: the statutory deadline moves out by it and caps the deadline.
    statutory_extension: LimitSpec | None = None


@dataclass
class OrderQuery:
    """A supervision order's response deadline: ``days`` working days after ``issued_at``."""

    issued_at: datetime
    days: int


@dataclass
class DeadlineBatch:
    clocks: list[ClockQuery] = field(default_factory=list)
    shifts: list[ShiftQuery] = field(default_factory=list)
    reminder_days: int = 1
    yellow_fraction: float = 0.9
    # Read the calendar data again first (an administrator just changed it).
    reload_calendar: bool = False
    # The statutory limit is a rung of its own even on the deadline's instant (False: the earlier
    # rule, for the computations that requests started before it recorded).
    statutory_rung: bool = False
    # The county ladder (None: the earlier one) and supervision orders' response deadlines.
    county: LadderPolicy | None = None
    orders: list[OrderQuery] = field(default_factory=list)


@dataclass
class ClockTimes:
    name: str
    deadline: datetime
    provisional: bool
    statutory: datetime | None = None
    reminder_at: datetime | None = None
    yellow_at: datetime | None = None
    warning_at: datetime | None = None


@dataclass
class DeadlineResult:
    clocks: list[ClockTimes]
    shifts: list[ClockTimes]
    shifted_working_days: int = 0
    respond_by: list[datetime] = field(default_factory=list)


@dataclass
class LedgerEvent:
    key: str
    at: datetime
    kind: str  # stage | action | escalation | rating | rectification
    actor: str
    role: str
    office: str
    action: str | None = None
    level: str | None = None
    clock: str | None = None
    from_stage: str | None = None
    to_stage: str | None = None
    deadline: datetime | None = None
    note: str | None = None


@dataclass
class Notification:
    key: str
    recipient_office: str
    recipient_role: str
    message: str
    level: str | None = None


@dataclass
class NoticeRequest:
    """A written notice (文书) to issue in the recording transaction (docs/design.md §3): its
    idempotency key (the action's ledger event key + ``:notice``), issuing office, kind and the
    kind's own fields with ``item``, ``item_name`` and, for the resident, ``resident_name``."""

    key: str
    office: str
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class TransitionRecord:
    """Everything one transition writes, in one database transaction: ledger rows, the read-model
    row, the rating and the notification outbox. Idempotent by the event keys."""

    state: RequestState
    events: list[LedgerEvent] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    notices: list[NoticeRequest] = field(default_factory=list)


@dataclass
class RecordResult:
    """What the recording assigned: the numbers of supervision orders first recorded by it."""

    order_numbers: dict[str, str] = field(default_factory=dict)  # order key -> number
