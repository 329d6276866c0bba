"""The stage/action table of docs/api.md as data, and the pure checks built on it.

The update validator and the HTTP API both read this table, so what the API documents and what the
workflow enforces cannot drift apart. Nothing here touches Temporal: these are plain functions,
unit-tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from models.contracts import (
    CLOSED_STAGES,
    COMMITMENT_SIGNERS,
    PAUSE_REASONS,
    RATED_TIERS,
    RECTIFY_OUTCOMES,
    REVIEW_STAGES,
    ActionCommand,
    Actor,
    Clock,
    ClockName,
    RequestState,
    Role,
    Stage,
    SupervisionOrder,
)

STAFF_ROLES = frozenset({Role.TOWNSHIP_STAFF, Role.CITY_STAFF})
# A bad rating is answered by the rated office: window staff, or the agent of a village proxy room.
RATED_ROLES = STAFF_ROLES | {Role.AGENT}
PRE_DECISION = frozenset(
    {Stage.VILLAGE_INTAKE, Stage.TOWNSHIP_REVIEW, Stage.CITY_REVIEW, Stage.AWAITING_SUPPLEMENT}
)
OPEN_STAGES = frozenset(Stage) - CLOSED_STAGES
# Supervision orders (督办单) may be issued, answered and reviewed while the clock is paused.
ORDER_ACTIONS = ("issue_order", "reply_order", "review_order")
# What may be done while the clock is paused: a gap's materials may arrive during a hearing too.
WHILE_PAUSED = ("resume", "withdraw", "supply_gap", *ORDER_ACTIONS)
# Why an action otherwise allowed is refused, for the conditions a person can act on.
CONDITION_REASONS = {
    "gap_closed": "the gap materials have not been supplied (容缺材料未补齐)",
    "gap_list": "this item has no materials that may be missing at acceptance (its gap list is "
    "empty): accept the complete materials or ask for a supplement",
    "called_back": "call the resident back first (callback)",
    "callback_open": "the resident was already reached by a callback",
    "appeal_window": "the appeal window has closed",
    "no_appeal": "the rating was already appealed",
    "appeal_pending": "no appeal is pending",
}


@dataclass(frozen=True)
class ActionRule:
    stages: frozenset[Stage]
    roles: frozenset[Role]
    # Whose office must the actor belong to: "village", "stage" (the office holding the stage),
    # "handling" (the office that decided), "scope" (a supervisor over the request), "head"
    # (the supervisor of the office holding the stage: its own tier, docs/design.md §2),
    # "addressed" (the office a supervision order is addressed to), "issuer" (the office that
    # issued it), "rated" (the office a bad rating is answered by) or "above" (the supervisor of
    # the tier above the rated office: a village's township, the city for a township or the city).
    office: str
    required: tuple[str, ...] = ()
    summary: str = ""
    # Extra conditions, each a name checked by ``_condition``.
    conditions: tuple[str, ...] = field(default=())


ACTIONS: dict[str, ActionRule] = {
    "handoff": ActionRule(
        frozenset({Stage.VILLAGE_INTAKE}),
        frozenset({Role.AGENT}),
        "village",
        summary="the agent hands the dossier to the township center",
    ),
    "accept": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        conditions=("not_accepted",),
        summary="accept (受理): starts the official clock, or the step clock for a city item",
    ),
    "accept_with_gap": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        required=("missing_materials", "due", "commitment"),
        conditions=("not_accepted", "gap_list"),
        summary="accept with a gap (容缺受理): materials of the item's gap list are due by a date "
        "no later than the promised deadline, on the resident's written commitment",
    ),
    "supply_gap": ActionRule(
        REVIEW_STAGES,
        frozenset({Role.AGENT}),
        "village",
        conditions=("gap_open",),
        summary="the gap materials arrived: the gap closes and the decision is allowed again",
    ),
    "request_supplement": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        required=("missing_materials",),
        conditions=("not_paused",),
        summary="ask for supplementary materials (补正), the complete list at once",
    ),
    "supplement": ActionRule(
        frozenset({Stage.AWAITING_SUPPLEMENT}),
        frozenset({Role.AGENT}),
        "village",
        summary="the complete materials arrive; the clock of the asking office restarts",
    ),
    "refuse": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        required=("note",),
        conditions=("not_accepted",),
        summary="refuse (不予受理) with a written reason",
    ),
    "forward": ActionRule(
        frozenset({Stage.TOWNSHIP_REVIEW}),
        frozenset({Role.TOWNSHIP_STAFF}),
        "stage",
        conditions=("accepted", "city_item", "not_paused", "gap_closed"),
        summary="forward (转报) a city item to the city center after pre-review; a gap accepted "
        "at the township is closed there first",
    ),
    "approve": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        conditions=("accepted", "deciding_tier", "not_paused", "gap_closed"),
        summary="approve: the result goes back to the village; not while a gap is open",
    ),
    "deny": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        required=("note",),
        conditions=("accepted", "deciding_tier", "not_paused"),
        summary="deny with a written reason: the decision letter goes back to the village; "
        "allowed while a gap is open (the gap closes with it)",
    ),
    "pause": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        required=("reason", "expected_days"),
        conditions=("accepted", "not_paused"),
        summary="stop the clock (中止) for a procedure excluded by law, with its expected days",
    ),
    "resume": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        conditions=("paused",),
        summary="restart the clock; every running deadline moves out by the paused working days",
    ),
    "request_extension": ActionRule(
        REVIEW_STAGES,
        STAFF_ROLES,
        "stage",
        required=("note", "days"),
        conditions=("accepted", "deciding_tier", "not_paused", "no_extension", "headroom"),
        summary="ask to extend the promised deadline (延期), at most to the statutory one",
    ),
    "approve_extension": ActionRule(
        REVIEW_STAGES,
        frozenset({Role.SUPERVISOR}),
        "head",
        conditions=("extension_pending",),
        summary="a supervisor approves the extension",
    ),
    "deliver": ActionRule(
        frozenset({Stage.RESULT_DELIVERY}),
        frozenset({Role.AGENT}),
        "village",
        summary="the agent delivers the result to the resident",
    ),
    "withdraw": ActionRule(
        PRE_DECISION,
        frozenset({Role.AGENT}),
        "village",
        summary="the resident withdraws the request before a decision",
    ),
    "rate": ActionRule(
        frozenset({Stage.AWAITING_RATING, Stage.COMPLETED}),
        frozenset({Role.AGENT}),
        "village",
        required=("score",),
        conditions=("rating_open",),
        summary="the resident rates the service (好差评), or rates the fix after rectification",
    ),
    "callback": ActionRule(
        frozenset({Stage.RECTIFICATION}),
        RATED_ROLES,
        "rated",
        required=("note", "reached"),
        conditions=("callback_open",),
        summary="the rated office calls the resident back (回访); called again until reached",
    ),
    "rectify": ActionRule(
        frozenset({Stage.RECTIFICATION}),
        RATED_ROLES,
        "rated",
        required=("note", "outcome"),
        conditions=("called_back",),
        summary="settle a bad rating after the callback: fixed (立行立改) or explained (解释说明) "
        "completes it; scheduled (限期整改) names a due date, then a later fixed completes it",
    ),
    "appeal_rating": ActionRule(
        frozenset({Stage.RECTIFICATION}),
        RATED_ROLES,
        "rated",
        required=("note",),
        conditions=("no_appeal", "appeal_window"),
        summary="the rated office appeals a mistaken or malicious rating (申诉) within the window",
    ),
    "review_appeal": ActionRule(
        frozenset({Stage.RECTIFICATION}),
        frozenset({Role.SUPERVISOR}),
        "above",
        required=("upheld",),
        conditions=("appeal_pending",),
        summary="the supervisor of the tier above reviews the appeal; an upheld appeal takes the "
        "rating out of the statistics and closes the rectification",
    ),
    "issue_order": ActionRule(
        OPEN_STAGES,
        frozenset({Role.SUPERVISOR}),
        "scope",
        required=("note",),
        conditions=("orders",),
        summary="a supervision order (督办单) to the office holding the stage, with a reason",
    ),
    "reply_order": ActionRule(
        frozenset(Stage),
        STAFF_ROLES | {Role.AGENT},
        "addressed",
        required=("order", "note"),
        conditions=("order_open",),
        summary="the addressed office answers a supervision order: what was done, what is left",
    ),
    "review_order": ActionRule(
        frozenset(Stage),
        frozenset({Role.SUPERVISOR}),
        "issuer",
        required=("order", "accepted"),
        conditions=("order_replied",),
        summary="the issuing office accepts the reply (the order closes) or returns it",
    ),
}


class ActionRejected(Exception):
    """Raised by the checks: ``kind`` says why (``forbidden``, ``not_allowed``, ``invalid``)."""

    def __init__(
        self,
        kind: str,
        message: str,
        allowed: list[str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.allowed = allowed or []
        self.errors = errors or []


def stage_office(state: RequestState) -> str:
    """The office that holds the request in its current stage."""
    return state.responsible_office


def office_matches(
    rule: ActionRule, state: RequestState, actor: Actor, *, head_is_scope: bool = False
) -> bool:
    """``head_is_scope``: the rule of workflows started before the ``head`` mode existed, under
    which any supervisor over the request approved an extension (they replay with it)."""
    if actor.role == Role.SYSTEM:
        return True
    if rule.office == "head" and not head_is_scope:
        return actor.office == stage_office(state)
    if rule.office == "village":
        return actor.office == state.village
    if rule.office == "stage":
        tier_role = Role.CITY_STAFF if state.stage == Stage.CITY_REVIEW else Role.TOWNSHIP_STAFF
        return actor.role == tier_role and actor.office == stage_office(state)
    if rule.office == "addressed":
        return any(o.office == actor.office for o in state.orders if o.status == "open")
    if rule.office == "issuer":
        return any(o.issuing_office == actor.office for o in state.orders if o.status == "replied")
    rect = state.rectification
    if rule.office == "rated" and rect is not None:
        return actor.role == office_role(state, rect.office) and actor.office == rect.office
    if rule.office == "above" and rect is not None:
        return actor.office == rect.appeal_reviewer
    if rule.office in ("handling", "rated"):
        # Rated before callbacks existed: the office that decided answers the rating, or in
        # rectification the rated office holding the request (the workflow's ``_rated_office``).
        handling = (
            state.responsible_office
            if state.stage == Stage.RECTIFICATION
            else state.handling_office or state.responsible_office
        )
        tier_role = Role.CITY_STAFF if handling == state.city else Role.TOWNSHIP_STAFF
        return actor.role == tier_role and actor.office == handling
    # "scope" (and "above" before callbacks existed): a supervisor over the request.
    return actor.office in (state.township, state.city)


def office_role(state: RequestState, office: str) -> Role:
    """The role that works for ``office`` of this request: its village's agent, the township's
    or the city's window staff."""
    if office == state.village:
        return Role.AGENT
    return Role.CITY_STAFF if office == state.city else Role.TOWNSHIP_STAFF


def _condition(name: str, state: RequestState, cmd: ActionCommand | None) -> bool:
    deciding_stage = Stage.CITY_REVIEW if state.deciding_tier == "city" else Stage.TOWNSHIP_REVIEW
    accepted = state.accepted_at is not None
    if name == "accepted":
        return accepted
    if name == "not_accepted":
        return not accepted
    if name == "city_item":
        return state.deciding_tier == "city"
    if name == "deciding_tier":
        return state.stage == deciding_stage
    if name == "paused":
        return state.paused is not None
    if name == "not_paused":
        return state.paused is None
    if name == "gap_list":  # before the gap rules any material could be missing
        return not state.gap_rules or bool(state.gap_materials)
    if name == "gap_open":
        return state.gap is not None and state.gap.status == "open"
    if name == "gap_closed":
        return state.gap is None or state.gap.status != "open"
    if name == "no_extension":
        return state.extension is None
    if name == "extension_pending":
        return state.extension is not None and state.extension.status == "pending"
    if name == "headroom":
        # Room below the statutory deadline, or a lawful extension that will move it.
        official = _clock(state, "official")
        return (
            official is not None
            and official.statutory is not None
            and (official.deadline < official.statutory or state.lawful_extension is not None)
        )
    if name == "orders":
        return state.county_ladder
    if name == "order_open":
        return any(o.status == "open" for o in state.orders)
    if name == "order_replied":
        return any(o.status == "replied" for o in state.orders)
    if name == "rating_open":
        if state.stage == Stage.AWAITING_RATING:
            return state.rating is None
        # After a rectification the resident may rate the fix, once.
        return (
            state.rectified is True
            and state.rating is not None
            and state.rating.fix_score is None
            and _clock(state, "fix_rating") is not None
        )
    if name == "no_appeal":
        return state.rating is not None and state.rating.appeal == "none"
    if name == "appeal_pending":
        return state.rating is not None and state.rating.appeal == "pending"
    rect = state.rectification
    if name == "callback_open":  # called again until the resident is reached
        return rect is not None and not any(c.reached for c in rect.callbacks)
    if name == "called_back":  # a settlement follows a recorded call
        return rect is None or bool(rect.callbacks)
    if name == "appeal_window":
        return rect is None or _clock(state, ClockName.APPEAL) is not None
    raise KeyError(name)


def _clock(state: RequestState, name: str) -> Clock | None:
    return next((c for c in state.clocks if c.name == name), None)


def _permitted(
    action: str, state: RequestState, actor: Actor, *, head_is_scope: bool = False
) -> bool:
    rule = ACTIONS[action]
    if state.stage not in rule.stages or actor.role not in rule.roles:
        return False
    if state.paused is not None and action not in WHILE_PAUSED:
        return False
    if not office_matches(rule, state, actor, head_is_scope=head_is_scope):
        return False
    return all(_condition(c, state, None) for c in rule.conditions)


def allowed_actions(state: RequestState, actor: Actor) -> list[str]:
    """The actions this actor may take now, in table order."""
    return [name for name in ACTIONS if _permitted(name, state, actor)]


def field_errors(
    cmd: ActionCommand,
    today: date | None = None,
    latest: date | None = None,
    *,
    pause_days: bool = True,
    gap_rules: bool = True,
    outcome: bool = True,
    rectify_latest: date | None = None,
) -> list[dict[str, str]]:
    """Required and well-formed fields of one command (422 material). ``today`` and ``latest``
    bound the dates a command names (``latest``: a far date would run off the calendar);
    ``pause_days``: a pause states its expected duration (False only for the re-check of requests
    started before written notices, whose histories hold pauses without it); ``gap_rules``: an
    accept-with-gap records a commitment (False for requests started before the gap rules);
    ``outcome``: a rectification names its outcome (False for requests rated before callbacks,
    settled by one ``rectify``); ``rectify_latest``: the furthest date a scheduled fix may be
    promised."""
    rule = ACTIONS[cmd.action]
    errors: list[dict[str, str]] = []
    for name in rule.required:
        if (
            (name == "commitment" and not gap_rules)
            or (name == "outcome" and not outcome)
            or (name == "expected_days" and not pause_days)
        ):
            continue
        value = getattr(cmd, name)
        if value is None or (isinstance(value, str | list) and not value):
            errors.append({"field": name, "message": f"{name} is required for {cmd.action}"})
    if cmd.expected_days is not None and not 1 <= cmd.expected_days <= 366:
        errors.append({"field": "expected_days", "message": "expected_days must be 1 to 366"})
    if cmd.missing_materials is not None and any(not m.strip() for m in cmd.missing_materials):
        errors.append({"field": "missing_materials", "message": "materials must not be empty"})
    if cmd.action == "pause" and cmd.reason is not None and cmd.reason not in PAUSE_REASONS:
        errors.append(
            {"field": "reason", "message": f"reason must be one of {', '.join(PAUSE_REASONS)}"}
        )
    if cmd.action == "request_extension" and cmd.days is not None and cmd.days < 1:
        errors.append({"field": "days", "message": "days must be at least 1"})
    if cmd.action in ORDER_ACTIONS and cmd.days is not None and cmd.days < 1:
        errors.append({"field": "days", "message": "days must be at least 1"})
    if cmd.action == "rate" and cmd.score is not None and not 1 <= cmd.score <= 5:
        errors.append({"field": "score", "message": "score must be between 1 and 5"})
    if cmd.action == "accept_with_gap" and gap_rules:
        errors.extend(_commitment_errors(cmd))
    if cmd.tiers:
        errors.extend(_tier_errors(cmd.tiers))
    if cmd.action == "accept_with_gap" and cmd.due:
        errors += _due_errors(cmd.due, today, latest)
    if cmd.action == "rectify" and outcome:
        errors += _outcome_errors(cmd, today, rectify_latest or latest)
    return errors


def _commitment_errors(cmd: ActionCommand) -> list[dict[str, str]]:
    """The signer of the commitment is one of ``COMMITMENT_SIGNERS``; an agent who signed for the
    resident names the authorisation it holds."""
    signer = cmd.commitment_by or "resident"
    if signer not in COMMITMENT_SIGNERS:
        message = f"commitment_by must be one of {', '.join(COMMITMENT_SIGNERS)}"
        return [{"field": "commitment_by", "message": message}]
    if signer == "agent" and not (cmd.authorisation or "").strip():
        message = "authorisation is required when the agent signed the commitment"
        return [{"field": "authorisation", "message": message}]
    if cmd.commitment is not None and not cmd.commitment.strip():
        return [{"field": "commitment", "message": "commitment must not be blank"}]
    return []


def gap_list_errors(state: RequestState, cmd: ActionCommand) -> list[dict[str, str]]:
    """Materials of an accept-with-gap that are not on the item's gap list (容缺材料清单)."""
    if cmd.action != "accept_with_gap" or not state.gap_rules:
        return []
    allowed = "、".join(state.gap_materials)
    return [
        {
            "field": "missing_materials",
            "message": f"{m} is not on the gap list of this item (may be missing: {allowed})",
        }
        for m in cmd.missing_materials or []
        if m not in state.gap_materials
    ]


def refusal(action: str, state: RequestState, actor: Actor, *, head_is_scope: bool = False) -> str:
    """Why ``action`` is not allowed now, in words a person can act on."""
    rule = ACTIONS[action]
    reason = f"{action} is not allowed in stage {state.stage} for this actor"
    if state.paused is not None:
        return reason + " while the clock is paused"
    fits = (
        state.stage in rule.stages
        and actor.role in rule.roles
        and office_matches(rule, state, actor, head_is_scope=head_is_scope)
    )
    failing = [c for c in rule.conditions if not _condition(c, state, None)]
    if fits and failing and all(c in CONDITION_REASONS for c in failing):
        return f"{action} is not allowed: " + "; ".join(CONDITION_REASONS[c] for c in failing)
    return reason


def _due_errors(due_text: str, today: date | None, latest: date | None) -> list[dict[str, str]]:
    try:
        due = date.fromisoformat(due_text)
    except ValueError:
        return [{"field": "due", "message": "due must be a date (YYYY-MM-DD)"}]
    if today is not None and due < today:
        return [{"field": "due", "message": "due must not be in the past"}]
    if latest is not None and due > latest:
        return [{"field": "due", "message": f"due must not be after {latest}"}]
    return []


def _outcome_errors(
    cmd: ActionCommand, today: date | None, latest: date | None
) -> list[dict[str, str]]:
    """A rectification's outcome is one of three; only a scheduled fix names its due date."""
    if cmd.outcome is None:
        return []  # reported as missing
    if cmd.outcome not in RECTIFY_OUTCOMES:
        message = f"outcome must be one of {', '.join(RECTIFY_OUTCOMES)}"
        return [{"field": "outcome", "message": message}]
    if cmd.outcome != "scheduled":
        if cmd.due is not None:
            return [{"field": "due", "message": "due is only for a scheduled rectification"}]
        return []
    if not cmd.due:
        return [{"field": "due", "message": "due is required for a scheduled rectification"}]
    return _due_errors(cmd.due, today, latest)


def check(
    state: RequestState,
    cmd: ActionCommand,
    today: date | None = None,
    latest: date | None = None,
    *,
    head_is_scope: bool = False,
    pause_days: bool = True,
    rectify_latest: date | None = None,
) -> None:
    """Raise ``ActionRejected`` unless ``cmd`` may be applied to ``state`` now
    (``latest``: the furthest date a field may name; ``head_is_scope``: see ``office_matches``;
    ``rectify_latest``: the furthest due date of a scheduled fix)."""
    rule = ACTIONS.get(cmd.action)
    if rule is None:
        raise ActionRejected(
            "invalid",
            f"unknown action {cmd.action!r}",
            errors=[{"field": "action", "message": f"unknown action {cmd.action!r}"}],
        )
    if cmd.actor.role not in rule.roles and cmd.actor.role != Role.SYSTEM:
        raise ActionRejected("forbidden", f"role {cmd.actor.role} may never {cmd.action}")
    if state.status == "closed" and not (cmd.action == "rate" and state.stage == Stage.COMPLETED):
        raise ActionRejected(
            "not_allowed", f"request is closed ({state.stage})", allowed_actions(state, cmd.actor)
        )
    if not _permitted(cmd.action, state, cmd.actor, head_is_scope=head_is_scope):
        allowed = allowed_actions(state, cmd.actor)
        reason = refusal(cmd.action, state, cmd.actor, head_is_scope=head_is_scope)
        raise ActionRejected("not_allowed", reason, allowed)
    errors = field_errors(
        cmd,
        today,
        latest,
        pause_days=pause_days,
        gap_rules=state.gap_rules,
        outcome=state.rectification is not None,
        rectify_latest=rectify_latest,
    )
    errors += gap_list_errors(state, cmd) if not errors else []
    errors += _schedule_errors(state, cmd)
    if errors:
        raise ActionRejected("invalid", "; ".join(e["message"] for e in errors), errors=errors)
    if cmd.action in ("reply_order", "review_order"):
        _check_order(state, cmd)
    if cmd.action == "rate":
        _check_rating(state, cmd)


def _tier_errors(tiers: dict[str, int]) -> list[dict[str, str]]:
    errors = []
    for tier, score in tiers.items():
        if tier not in RATED_TIERS:
            message = f"tiers: unknown tier {tier!r}; one of {', '.join(RATED_TIERS)}"
            errors.append({"field": "tiers", "message": message})
        elif not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            errors.append({"field": "tiers", "message": f"tiers: {tier} must be between 1 and 5"})
    return errors


def handled_tiers(deciding_tier: str) -> tuple[str, ...]:
    """The tiers a resident may rate on a request decided at ``deciding_tier``: the village proxy
    room and the township center take every request; the city center those it decides."""
    return RATED_TIERS if deciding_tier == "city" else RATED_TIERS[:2]


def _check_rating(state: RequestState, cmd: ActionCommand) -> None:
    """Tiers only of offices that handled the request, and only with the service's rating (a
    fix is rated as a whole); a link or code that rated already rates no more."""
    tiers = cmd.tiers or {}
    handled = handled_tiers(state.deciding_tier)
    if tiers and state.stage != Stage.AWAITING_RATING:
        message = "tiers: the fix of a rectification is rated as a whole"
        raise ActionRejected("invalid", message, errors=[{"field": "tiers", "message": message}])
    strangers = [tier for tier in tiers if tier not in handled]
    if strangers:
        message = f"tiers: {', '.join(strangers)} did not handle this request"
        raise ActionRejected("invalid", message, errors=[{"field": "tiers", "message": message}])
    if cmd.rating_proof is not None and cmd.rating_proof in state.rating_proofs:
        raise ActionRejected(
            "not_allowed",
            "this rating link or confirmation code was used already",
            allowed_actions(state, cmd.actor),
        )


def _schedule_errors(state: RequestState, cmd: ActionCommand) -> list[dict[str, str]]:
    """A scheduled fix is followed by its ``fixed``, nothing else."""
    rect = state.rectification
    if cmd.action != "rectify" or rect is None or rect.outcome != "scheduled":
        return []
    if cmd.outcome in (None, "fixed"):
        return []
    message = f"outcome must be fixed: the fix is scheduled for {rect.due}"
    return [{"field": "outcome", "message": message}]


def find_order(state: RequestState, number: str | None) -> SupervisionOrder | None:
    return next((o for o in state.orders if number is not None and o.number == number), None)


def _check_order(state: RequestState, cmd: ActionCommand) -> None:
    """The order a reply or review names: one of this request's (422), in the status the action
    needs and addressed to, or issued by, the actor's office (409)."""
    order = find_order(state, cmd.order)
    if order is None:
        message = f"no supervision order {cmd.order} on this request"
        raise ActionRejected("invalid", message, errors=[{"field": "order", "message": message}])
    if cmd.action == "reply_order":
        fits = order.status == "open" and order.office == cmd.actor.office
    else:
        fits = order.status == "replied" and order.issuing_office == cmd.actor.office
    if not fits:
        raise ActionRejected(
            "not_allowed",
            f"{cmd.action} is not allowed for order {order.number} ({order.status}) by this actor",
            allowed_actions(state, cmd.actor),
        )


def is_closed(stage: str) -> bool:
    return stage in CLOSED_STAGES
