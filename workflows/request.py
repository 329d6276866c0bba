"""The resident request workflow: village proxy room → township center → city center and back.

Determinism: this module imports only the stdlib, ``temporalio`` and the contracts. Time comes from
``workflow.now()``, waiting from ``workflow.wait_condition``; deadlines are computed by the
``compute_deadlines`` local activity (the calendar data may change, the history must not), and every
write goes through the ``record_transition`` activity.

One workflow class whose handlers share a lock, a transaction and the patch markers that running
workflows depend on. This module holds its Temporal surface, the request's path from registration
to delivery, its clocks and the recording of each transition. Its other steps are mixins of it:
``workflows.rating`` answers a rating, ``workflows.supervision`` raises the ladder's cards and the
supervision orders, ``workflows.transition`` writes a transition's history, ledger events and
notifications. Its pure parts live apart (``models.actions`` for the rules, ``workflows.clocks``
for the ladder, ``workflows.gap`` for accept-with-gap, ``workflows.notice`` for the resident's
text).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

from models import actions as rules
from models import search_attributes as sa
from models.contracts import (
    RESIDENT_RECIPIENT,
    ActionCommand,
    Clock,
    ClockName,
    ClockQuery,
    DeadlineBatch,
    DeadlineResult,
    Expiry,
    ExtensionInfo,
    Level,
    LimitSpec,
    PauseInfo,
    RatingChannel,
    RatingInfo,
    RequestInput,
    RequestState,
    Stage,
    TransitionRecord,
)
from workflows import clocks, orders
from workflows import gap as gaps
from workflows.notice import CST, local_time, service_notice
from workflows.rating import RATING_CHANNELS, RatingSteps
from workflows.recorder import Recorder
from workflows.supervision import SupervisionSteps
from workflows.timeouts import (
    COMPUTE_RETRY,
    COMPUTE_TIMEOUT,
    DEADLINES_UNAVAILABLE,
    RECORD_RETRY,
    RECORD_TIMEOUT,
    SYSTEM_RETRY_FIRST,
    SYSTEM_RETRY_MAX,
)
from workflows.transition import SYSTEM, Tx

INVALID_ACTION = "InvalidAction"
# Patch: record transitions with a regular activity, after the deciding task is committed.
RECORD_AFTER_COMMIT = "record-transition-after-commit"
# Patch: ``ready`` answers once the registration is recorded, not once it is decided. Runs
# started before it completed ``ready`` in an earlier workflow task; replaying them needs that.
READY_AFTER_RECORD = "ready-after-record"
# Patch: a transition whose deadlines cannot be computed applies nothing (the state is restored);
# an action answers with ``DeadlinesUnavailable``, the workflow's own transitions (registration,
# rungs, calendar recomputation) wait and try again. Before it, the error failed the run.
ATOMIC_TRANSITIONS = "atomic-transitions"
# Patch: an action's dates are checked against the service's local date (between 00:00 and 08:00
# in China the UTC date is yesterday's) and a gap's due date at most ``MAX_DUE_AHEAD`` away.
LOCAL_DATES = "local-dates"
# Patch: a calendar recomputation that moves only a reminder or yellow instant is committed too.
RECOMPUTE_EVERY_INSTANT = "recompute-every-instant"
# The furthest a gap's materials may be promised: a year covers any lawful promise.
MAX_DUE_AHEAD = timedelta(days=366)
# Patch: a transition is queued for recording and the lock released at once; one loop records
# the queue in order (``workflows.recorder``). Before it, a recording that could not finish (the
# database away) held the lock: actions waited and no rung fired until the database was back.
RECORD_OUTSIDE_LOCK = "record-outside-lock"
# Patch: every command names this request and carries a command id used once (docs/design.md §6).
BOUND_COMMANDS = "bound-commands"
# Patch: only the supervisor of the office holding the stage approves its extension
# (docs/design.md §2).
EXTENSION_BY_HEAD = "extension-approved-by-own-tier"
# Patch: the statutory limit is a rung of its own even when it falls on the deadline (equal limits,
# an extension capped at statutory); before it, the clock reported no statutory deadline then.
STATUTORY_OWN_RUNG = "statutory-own-rung"
# Patch: a calendar change recomputes the promise to the resident (``expected_at``) too.
EXPECTED_FOLLOWS_CALENDAR = "expected-follows-calendar"
# Patch: the county ladder of the request's policy snapshot (docs/design.md §3): a yellow card at
# the deadline with a supervision order, a red card when the order goes unanswered. A request
# submitted before it (no ladder in its snapshot) keeps the earlier ladder.
COUNTY_LADDER = "county-ladder"
# Patch: an approved extension is the item's lawful one (docs/design.md §2): the statutory deadline
# moves out by it once, the promised deadline at most to the new statutory one, and the resident
# is told. Before it, the statutory deadline never moved.
LAWFUL_EXTENSION = "lawful-extension"
# Patch: the actions that call for a written notice (文书) issue it in their recording, and a pause
# states its expected duration (docs/design.md §3).
WRITTEN_NOTICES = "written-notices"
# Patch: accept-with-gap by the published rules (docs/design.md §4a): only the item's gap list,
# on a recorded commitment, due by the promised deadline; no approval while the gap is open;
# ``supply_gap`` closes it; an unsupplied gap lapses the request. Before it, any material could
# be missing and the due date only reminded the office.
GAP_RULES = "gap-rules"
# Patch: a bad rating is answered as counties do (docs/design.md §4): the rated office calls the
# resident back within the callback limit, then settles it with an outcome (a scheduled fix has a
# clock of its own until its due date); it may appeal within the appeal window, to the supervisor
# of the tier above. Before it, one ``rectify`` completed the rectification.
RECTIFICATION_CALLBACK = "rectification-callback"

# The workflow's text of the rating invitation; the recording sends the county's, with the link.
RATING_INVITATION = "请对本次办事服务进行评价"


@workflow.defn(name="ResidentRequest")
class ResidentRequestWorkflow(RatingSteps, SupervisionSteps):
    """One resident request, from registration by the village agent to the archived rating.

    Input: ``RequestInput`` (the item and the policy are snapshots taken at submission).
    Update ``act(ActionCommand) -> RequestState``: every action of the stage/action table in
    ``models.actions``; the validator rejects, writing nothing, an action not allowed now, for
    this role or office, or missing a required field (``ApplicationError`` of type
    ``ActionNotAllowed``, ``Forbidden`` or ``InvalidAction`` with ``allowed_actions`` and field
    ``errors`` in its details).
    Update ``ready() -> RequestState``: waits until the registration is recorded.
    Query ``state() -> RequestState``.
    Clocks are durable timers: one ``wait_condition`` with the time to the next rung; an action
    wakes it to recompute. The workflow ends when the request is closed and no window is left open.
    """

    @workflow.init
    def __init__(self, inp: RequestInput) -> None:
        now = workflow.now()
        self._inp = inp
        self._policy = inp.policy
        self._lock = asyncio.Lock()
        self._wake = False
        self._search: dict[str, object] = {}
        self._recorded = 0  # the last state version written to the ledger and read model
        self._recorder = Recorder(self._numbers_given)
        self._record_outside_lock: bool | None = None  # decided at the first transition
        # Decided once, at the first task: a workflow started before the patch keeps accepting
        # the unbound commands its history holds (a validator may not call ``patched``).
        self._bound_commands = workflow.patched(BOUND_COMMANDS)
        self._extension_by_head = workflow.patched(EXTENSION_BY_HEAD)
        self._county = inp.policy.ladder is not None and workflow.patched(COUNTY_LADDER)
        lawful = inp.item.extension is not None and workflow.patched(LAWFUL_EXTENSION)
        self._notices = workflow.patched(WRITTEN_NOTICES)
        gap_rules = workflow.patched(GAP_RULES)
        self._callbacks = workflow.patched(RECTIFICATION_CALLBACK)
        self._used_commands: set[str] = set()
        # How ``expected_at`` was last computed, to compute it again when the calendar changes.
        # Bookkeeping only, rebuilt the same way on replay.
        self._expected: ClockQuery | None = None
        self._state = RequestState(
            id=inp.request_id,
            number=inp.number,
            item=inp.item.code,
            item_name=inp.item.name,
            deciding_tier=inp.item.deciding_tier,
            village=inp.village,
            township=inp.township,
            city=inp.city,
            stage=Stage.VILLAGE_INTAKE,
            status="open",
            responsible_office=inp.village,
            resident=inp.resident,
            agent=inp.agent.sub,
            channel=inp.channel,
            created_at=now,
            updated_at=now,
            materials=list(inp.materials),
            note=inp.note,
            county_ladder=self._county,
            lawful_extension=inp.item.extension if lawful else None,
            gap_rules=gap_rules,
            gap_materials=list(inp.item.gap_materials) if gap_rules else [],
        )

    # --- Temporal surface ----------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: RequestInput) -> RequestState:
        self._records_outside_lock()
        await self._until_applied(self._register)
        while not self._finished():
            await self._sleep_until_next_rung()
            await self._until_applied(self._fire_due)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._records_outside_lock():
            await self._recorder.close()
        return self._state

    @workflow.query
    def state(self) -> RequestState:
        return self._state

    @workflow.signal
    async def calendar_changed(self) -> None:
        """An administrator changed the calendar data (e.g. loaded next year's schedule): compute
        every running clock again; deadlines that were provisional become final."""
        await self._until_applied(self._recompute_after_calendar_change)

    @workflow.update
    async def ready(self) -> RequestState:
        """The state once registration is recorded (ledger and read model written); sent with
        the start (update-with-start) so the submitter gets deadlines in the same round trip and
        can act on the request at once."""
        if workflow.patched(READY_AFTER_RECORD):
            await workflow.wait_condition(lambda: max(self._recorded, self._recorder.recorded) >= 1)
        else:
            await workflow.wait_condition(lambda: self._state.version >= 1)
        return self._state

    @workflow.update
    async def act(self, cmd: ActionCommand) -> RequestState:
        async with self._lock:
            # Another update may have changed the state while this one waited for the lock: check
            # again, so that two racing actions can never both apply.
            self._check(cmd, local_dates=workflow.patched(LOCAL_DATES), pause_days=self._notices)
            tx = Tx(workflow.now())
            if not await self._atomically(lambda: self._apply(cmd, tx)):
                raise ApplicationError(
                    "the deadlines cannot be computed now; nothing was changed, retry later",
                    type=DEADLINES_UNAVAILABLE,
                    non_retryable=True,
                )
            if cmd.command_id is not None:
                # Used once it has applied: a command that changed nothing may be sent again.
                self._used_commands.add(cmd.command_id)
            await self._commit(tx)
            if not self._records_outside_lock():
                return self._state
            answer = copy.deepcopy(self._state)  # the state this action made
        # The answer promises the action recorded (ledger and read model), as it always did; the
        # lock is free meanwhile, so rungs and other actions are decided on time.
        await self._recorder.until_recorded(answer.version)
        # The numbers its recording gave to the orders it issued, now known.
        given = {o.key: o.number for o in self._state.orders if o.number is not None}
        orders.assign_numbers(answer, given)
        return answer

    @act.validator
    def _validate_act(self, cmd: ActionCommand) -> None:
        # A validator is not replayed (a rejected update leaves no history), so it may apply the
        # current rules without a patch; the handler's re-check may not.
        self._check(cmd, local_dates=True, pause_days=True)

    # --- rules ---------------------------------------------------------------------------------

    def _check(self, cmd: ActionCommand, *, local_dates: bool, pause_days: bool) -> None:
        now = workflow.now()
        rectify_latest: date | None = None
        if local_dates:
            today = now.astimezone(CST).date()
            latest: date | None = today + MAX_DUE_AHEAD
            rectify_latest = today + timedelta(days=self._policy.rectify_due_max_days)
        else:  # runs before the local-dates patch
            today, latest = now.date(), None
        if self._bound_commands:
            self._check_binding(cmd)
        try:
            rules.check(
                self._state,
                cmd,
                today=today,
                latest=latest,
                head_is_scope=not self._extension_by_head,
                pause_days=pause_days,
                rectify_latest=rectify_latest,
            )
        except rules.ActionRejected as e:
            kind = {"forbidden": "Forbidden", "invalid": "InvalidAction"}.get(
                e.kind, "ActionNotAllowed"
            )
            raise ApplicationError(
                e.message,
                {"allowed_actions": e.allowed, "errors": e.errors, "stage": self._state.stage},
                type=kind,
                non_retryable=True,
            ) from None

    def _check_binding(self, cmd: ActionCommand) -> None:
        """A command made for another request (copied from its history) or already used is
        refused: only the API mints the request and command ids, inside the encrypted payload."""
        if cmd.request_id != self._state.id or not cmd.command_id:
            message = "command is not bound to this request"
        elif cmd.command_id in self._used_commands:
            message = "command was already used"
        else:
            return
        raise ApplicationError(
            message, {"stage": self._state.stage}, type="Forbidden", non_retryable=True
        )

    async def _apply(self, cmd: ActionCommand, tx: Tx) -> None:
        handler = getattr(self, f"_do_{cmd.action}")
        await handler(cmd, tx)

    # --- all-or-nothing transitions ------------------------------------------------------------

    async def _atomically(self, step: Callable[[], Awaitable[None]]) -> bool:
        """Run ``step``; when an activity fails in it (the calendar cannot be read, so no deadline
        can be computed) put the state back as it was and answer False. Handlers change the state
        before they compute, so without this a failed action left the request half-moved (a
        ``handoff`` at the township with no clock at all)."""
        saved, expected = copy.deepcopy(self._state), self._expected
        try:
            await step()
        except (ActivityError, ApplicationError) as error:  # a local activity's is the latter
            if isinstance(error, ApplicationError) and error.type == INVALID_ACTION:
                # Refused by a rule known only once the deadlines are computed.
                self._state, self._expected = saved, expected
                raise
            if not workflow.patched(ATOMIC_TRANSITIONS):
                raise
            self._state = saved
            workflow.logger.warning("transition not applied: %s", error)
            return False
        return True

    async def _until_applied(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run one of the workflow's own transitions until it applies. An error here would fail
        the whole run (a rung, a registration) or every open request at once (a calendar edit),
        so the state stays as it was and the step is tried again after a growing pause, with the
        lock released so that actions are not held up meanwhile."""
        delay = SYSTEM_RETRY_FIRST
        while True:
            async with self._lock:
                if await self._atomically(step):
                    return
            await workflow.sleep(delay)
            delay = min(delay * 2, SYSTEM_RETRY_MAX)

    async def _register(self) -> None:
        inp = self._inp
        tx = Tx(workflow.now())
        await self._start_clocks(
            tx,
            [clocks.query(ClockName.HANDOFF, tx.now, [clocks.wd(self._policy.agent_handoff_days)])],
            offices={ClockName.HANDOFF: inp.village},
            expected_steps=clocks.expected_steps(self._policy, inp.item, Stage.VILLAGE_INTAKE),
        )
        self._history(tx, inp.agent, "submit", None, Stage.VILLAGE_INTAKE, inp.note)
        self._event(tx, inp.agent, "action", "submit", to_stage=Stage.VILLAGE_INTAKE)
        self._notify(tx, inp.village, "agent", "新的代办申请已登记，请按期送交镇便民服务中心")
        await self._commit(tx)

    async def _recompute_after_calendar_change(self) -> None:
        tx = Tx(workflow.now())
        if await self._recompute_clocks():
            self._history(tx, SYSTEM, "recompute_deadlines", None, None, "calendar changed")
            self._event(tx, SYSTEM, "action", "recompute_deadlines", note="calendar changed")
            await self._commit(tx)

    # --- actions -------------------------------------------------------------------------------

    async def _do_handoff(self, cmd: ActionCommand, tx: Tx) -> None:
        clocks.drop_clocks(self._state, ClockName.HANDOFF)
        self._arrive(tx, cmd, Stage.TOWNSHIP_REVIEW, self._state.township)
        await self._start_acceptance(tx)

    async def _do_accept(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        self._move(tx, cmd, s.stage)
        await self._accept(tx, as_of=tx.now)
        self._notice(tx, "acceptance", s.responsible_office, promised_date=local_day(s.expected_at))

    async def _do_accept_with_gap(self, cmd: ActionCommand, tx: Tx) -> None:
        assert cmd.due is not None and cmd.missing_materials is not None
        s = self._state
        s.missing_materials = list(cmd.missing_materials)
        s.gap_due = cmd.due
        self._move(tx, cmd, s.stage)
        await self._accept(tx, as_of=tx.now)
        self._notice(
            tx,
            "gap_acceptance",
            self._state.responsible_office,
            missing_materials=list(cmd.missing_materials),
            form="交村代办员转交",
            due_date=cmd.due,
            **({"commitment": cmd.commitment} if s.gap_rules else {}),
        )
        gap = clocks.query(ClockName.GAP, tx.now, [], ladder=False)
        gap.until = cmd.due
        await self._start_clocks(
            tx,
            [gap],
            offices={ClockName.GAP: self._state.responsible_office},
            expiry={ClockName.GAP: Expiry.GAP_LAPSE if s.gap_rules else Expiry.NOTICE},
        )
        if s.gap_rules:
            self._open_gap(cmd, tx)

    def _open_gap(self, cmd: ActionCommand, tx: Tx) -> None:
        """Record the gap and its commitment; refuse (nothing applies) a due date later than the
        promised deadline the acceptance just started: no decision may wait for it."""
        s = self._state
        started = clocks.find_clock(s, ClockName.STEP) or clocks.find_clock(s, ClockName.OFFICIAL)
        gap = clocks.find_clock(s, ClockName.GAP)
        assert started is not None and gap is not None
        # Compared as instants: a due date on a day off runs to the next working day's closing.
        if gap.deadline > started.deadline:
            latest = local_day(started.deadline)
            message = (
                f"due must not be after the promised deadline: the latest allowed date is {latest}"
            )
            raise ApplicationError(
                message,
                {
                    "allowed_actions": [],
                    "errors": [{"field": "due", "message": message, "latest": latest}],
                    "stage": s.stage,
                },
                type=INVALID_ACTION,
                non_retryable=True,
            )
        gaps.open_gap(s, cmd, tx.now)

    async def _do_supply_gap(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        gaps.supply(s, cmd.actor.sub, tx.now)
        s.missing_materials = []
        clocks.drop_clocks(s, ClockName.GAP)
        self._move(tx, cmd, s.stage, note=cmd.note or gaps.materials_text(s))
        self._notify(
            tx,
            s.responsible_office,
            "staff",
            f"“{s.item_name}”容缺材料已补齐（{gaps.materials_text(s)}），可以作出决定",
        )

    async def _do_request_supplement(self, cmd: ActionCommand, tx: Tx) -> None:
        assert cmd.missing_materials is not None
        s = self._state
        s.supplement_return = s.stage
        # 补正 asks for the complete list at once: an open gap's materials are part of it.
        s.missing_materials = gaps.with_gap_materials(s, cmd.missing_materials)
        clocks.drop_clocks(
            self._state, ClockName.ACCEPTANCE, ClockName.OFFICIAL, ClockName.STEP, ClockName.GAP
        )
        asking = s.responsible_office
        self._move(tx, cmd, Stage.AWAITING_SUPPLEMENT, s.village)
        self._notify(
            tx, s.village, "agent", "请通知申请人补正材料：" + "、".join(s.missing_materials)
        )
        window = LimitSpec(self._policy.supplement_window_natural_days, "natural")
        await self._start_clocks(
            tx,
            [clocks.query(ClockName.SUPPLEMENT, tx.now, [window], ladder=False)],
            offices={ClockName.SUPPLEMENT: s.village},
            expiry={ClockName.SUPPLEMENT: Expiry.LAPSE},
        )
        window_clock = clocks.find_clock(s, ClockName.SUPPLEMENT)
        due = local_day(window_clock.deadline if window_clock else None)
        self._notice(
            tx, "supplement", asking, missing_materials=list(s.missing_materials), due_date=due
        )

    async def _do_supplement(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        back = Stage(s.supplement_return or Stage.TOWNSHIP_REVIEW)
        office = s.city if back == Stage.CITY_REVIEW else s.township
        s.missing_materials = []
        s.supplement_return = None
        gaps.supply(s, cmd.actor.sub, tx.now)  # an open gap's materials came with the list
        clocks.drop_clocks(self._state, ClockName.SUPPLEMENT)
        self._arrive(tx, cmd, back, office)
        if s.accepted_at is not None:
            # 补正 restarts the official clock: acceptance is the day the complete materials arrive.
            await self._accept(tx, as_of=tx.now)
        else:
            await self._start_acceptance(tx)

    async def _do_refuse(self, cmd: ActionCommand, tx: Tx) -> None:
        self._close(tx, cmd, Stage.REFUSED)
        self._notice(tx, "refusal", self._state.responsible_office, reason=cmd.note)
        self._notify(tx, self._state.village, "agent", "申请不予受理：" + (cmd.note or ""))

    async def _do_forward(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        clocks.drop_clocks(self._state, ClockName.STEP, ClockName.GAP)
        s.accepted_at = None  # the city center accepts on its own
        s.deemed_accepted = False
        self._arrive(tx, cmd, Stage.CITY_REVIEW, s.city)
        await self._start_acceptance(tx)

    async def _do_approve(self, cmd: ActionCommand, tx: Tx) -> None:
        await self._decide(cmd, tx, "approved")

    async def _do_deny(self, cmd: ActionCommand, tx: Tx) -> None:
        await self._decide(cmd, tx, "denied")
        s = self._state
        self._notice(tx, "denial", s.handling_office or s.responsible_office, reason=cmd.note)

    async def _do_pause(self, cmd: ActionCommand, tx: Tx) -> None:
        assert cmd.reason is not None
        self._state.paused = PauseInfo(
            reason=cmd.reason, since=tx.now, note=cmd.note, expected_days=cmd.expected_days
        )
        self._move(tx, cmd, self._state.stage, note=cmd.note or cmd.reason)
        self._notice(
            tx,
            "special_procedure",
            self._state.responsible_office,
            procedure=cmd.reason,
            expected_days=cmd.expected_days,
        )

    async def _do_resume(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        assert s.paused is not None
        since, s.paused = s.paused.since, None
        # Every running deadline (and the promise to the resident) moves out by the paused
        # working days; rungs already passed before the pause stay fired.
        result = await self._compute(
            DeadlineBatch(
                shifts=[clocks.shift_query(c, since=since, until=tx.now) for c in s.clocks]
                + clocks.expected_shift(s, since=since, until=tx.now),
            )
        )
        clocks.apply_shifts(self._state, result.shifts)
        for clock in s.clocks:
            clock.paused_days += result.shifted_working_days
        if self._expected is not None and self._expected.after is None:
            self._expected.paused_days += result.shifted_working_days
        self._move(tx, cmd, s.stage, note=f"paused {result.shifted_working_days} working days")

    async def _do_request_extension(self, cmd: ActionCommand, tx: Tx) -> None:
        assert cmd.days is not None and cmd.note is not None
        self._state.extension = ExtensionInfo(
            days=cmd.days, reason=cmd.note, requested_by=cmd.actor.sub, requested_at=tx.now
        )
        self._move(tx, cmd, self._state.stage)
        self._notify(tx, self._scope_supervisor(), "supervisor", "延期申请待审批")

    async def _do_approve_extension(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        ext = s.extension
        official = clocks.find_clock(self._state, ClockName.OFFICIAL)
        assert ext is not None and official is not None
        # The promised deadline moves out, never past the statutory one; a lawful extension moves
        # the statutory one first.
        official.extended_days += ext.days
        query = clocks.shift_query(official, extra_days=ext.days, cap=official.statutory)
        if s.lawful_extension is not None:
            official.statutory_extension = query.statutory_extension = s.lawful_extension
        result = await self._compute(DeadlineBatch(shifts=[query]))
        clocks.apply_shifts(self._state, result.shifts)
        if s.lawful_extension is not None:  # the resident is told the reason and the new date
            self._notify(
                tx,
                s.village,
                "agent",
                f"延期告知：“{s.item_name}”因{ext.reason}延期，"
                f"新的办理期限为{local_time(official.deadline)}，请告知申请人。",
            )
        ext.status, ext.approved_by, ext.new_deadline = "approved", cmd.actor.sub, official.deadline
        official.fired = [lv for lv in official.fired if lv == Level.STATUTORY]
        await self._project_expected(tx, official.deadline)
        self._move(tx, cmd, s.stage, note=f"deadline {official.deadline.isoformat()}")
        self._notice(
            tx,
            "extension",
            s.responsible_office,
            reason=ext.reason,
            new_date=local_day(official.deadline),
        )

    async def _do_deliver(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        clocks.drop_clocks(self._state, ClockName.DELIVERY)
        self._move(tx, cmd, Stage.AWAITING_RATING, s.village)
        window = LimitSpec(self._policy.rating_window_natural_days, "natural")
        await self._start_clocks(
            tx,
            [clocks.query(ClockName.RATING, tx.now, [window], ladder=False)],
            offices={ClockName.RATING: s.village},
            expiry={ClockName.RATING: Expiry.DEFAULT_RATING},
        )
        if workflow.patched(RATING_CHANNELS):
            # Recorded as a text to the resident's own phone: the recording issues the rating link
            # (a random code, kept hashed) and sends it; the workflow never sees the link.
            self._notify(tx, s.village, RESIDENT_RECIPIENT, RATING_INVITATION)

    async def _do_withdraw(self, cmd: ActionCommand, tx: Tx) -> None:
        self._close(tx, cmd, Stage.WITHDRAWN)

    async def _recompute_clocks(self) -> bool:
        running = [c for c in self._state.clocks if c.query is not None]
        if not running:
            return False
        queries = [
            replace(
                c.query,
                paused_days=c.paused_days,
                extended_days=c.extended_days,
                statutory_extension=c.statutory_extension,
            )
            for c in running
            if c.query is not None
        ]
        expected = self._expected_again(queries)
        if expected is not None:
            queries.append(expected)
        result = await self._compute(DeadlineBatch(clocks=queries, reload_calendar=True))
        changed = rungs_moved = False
        if expected is not None:
            times = result.clocks.pop()
            changed = times.deadline != self._state.expected_at
            self._state.expected_at = times.deadline
        for clock, times in zip(running, result.clocks, strict=True):
            before = (clock.deadline, clock.statutory, clock.provisional)
            rungs = (clock.reminder_at, clock.yellow_at)
            clocks.set_times(clock, times)
            changed = changed or before != (clock.deadline, clock.statutory, clock.provisional)
            rungs_moved = rungs_moved or rungs != (clock.reminder_at, clock.yellow_at)
        # A moved reminder or yellow instant alone is a change too: uncommitted, the read model
        # kept the old one and the ladder's timer was not reset, so the rung fired off time.
        return changed or (rungs_moved and workflow.patched(RECOMPUTE_EVERY_INSTANT))

    def _expected_again(self, queries: list[ClockQuery]) -> ClockQuery | None:
        """The promise to the resident, to compute again with the clocks; None when it is not
        (decided, or a request started before it was)."""
        expected = self._expected
        if expected is None or self._state.expected_at is None:
            return None
        if expected.after is not None and all(q.name != expected.after for q in queries):
            return None
        if not workflow.patched(EXPECTED_FOLLOWS_CALENDAR):
            return None
        return expected

    # --- transitions shared by several actions ------------------------------------------------

    async def _start_acceptance(self, tx: Tx) -> None:
        """The dossier arrived at an office: the acceptance window (Licensing Law art. 32) runs."""
        s = self._state
        days = self._policy.acceptance_window_days
        await self._start_clocks(
            tx,
            [clocks.query(ClockName.ACCEPTANCE, tx.now, [clocks.wd(days)])],
            offices={ClockName.ACCEPTANCE: s.responsible_office},
            expiry={ClockName.ACCEPTANCE: Expiry.DEEM_ACCEPTED},
        )

    async def _accept(self, tx: Tx, *, as_of: datetime) -> None:
        """Start the office's clock from ``as_of``: the step clock for a city item still at the
        township, the official clock otherwise."""
        s = self._state
        s.accepted_at = as_of
        s.handling_office = s.responsible_office
        clocks.drop_clocks(self._state, ClockName.ACCEPTANCE, ClockName.OFFICIAL, ClockName.STEP)
        item = self._inp.item
        statutory: list[LimitSpec] | None
        if s.stage == Stage.TOWNSHIP_REVIEW and item.deciding_tier == "city":
            name = ClockName.STEP
            steps = [clocks.wd(self._policy.township_step_days)]
            statutory = [clocks.wd(self._policy.township_step_statutory_days)]
        else:
            name = ClockName.OFFICIAL
            steps = [item.promised]
            statutory = [item.statutory] if item.statutory is not None else None
        await self._start_clocks(
            tx,
            [clocks.query(name, as_of, steps, statutory)],
            offices={name: s.responsible_office},
            expected_steps=clocks.expected_steps(self._policy, self._inp.item, s.stage),
            expected_from=as_of,
        )

    async def _decide(self, cmd: ActionCommand, tx: Tx, decision: str) -> None:
        s = self._state
        gaps.end(s, gaps.CLOSED)  # only a denial is issued while a gap is open
        official = clocks.find_clock(self._state, ClockName.OFFICIAL)
        s.decision, s.decided_at = decision, tx.now
        s.on_time = official is None or tx.now <= official.deadline
        s.handling_office = s.responsible_office
        clocks.drop_clocks(self._state, ClockName.OFFICIAL, ClockName.GAP)
        self._move(tx, cmd, Stage.RESULT_DELIVERY, s.village)
        self._notify(tx, s.village, "agent", f"办理结果（{decision}）待送达申请人")
        await self._start_clocks(
            tx,
            [clocks.query(ClockName.DELIVERY, tx.now, [clocks.wd(self._policy.delivery_days)])],
            offices={ClockName.DELIVERY: s.village},
        )
        self._expected = None  # decided: the delivery clock holds the promise now

    # --- the escalation ladder -----------------------------------------------------------------

    async def _sleep_until_next_rung(self) -> None:
        self._wake = False
        nxt = clocks.next_rung(self._state)
        if nxt is None:
            await workflow.wait_condition(lambda: self._wake or self._finished())
            return
        delay = (nxt - workflow.now()).total_seconds()
        if delay <= 0:
            return
        try:
            # One durable timer for the nearest rung; an action sets _wake to recompute it.
            await workflow.wait_condition(lambda: self._wake, timeout=timedelta(seconds=delay))
        except TimeoutError:
            pass

    async def _fire_due(self) -> None:
        if self._state.paused is not None:
            return
        tx = Tx(workflow.now())
        for clock in list(self._state.clocks):
            for level, at in clocks.pending_rungs(clock):
                if at > tx.now or not any(c is clock for c in self._state.clocks):
                    continue
                clock.fired.append(level)
                if level == Level.RED and clock.expiry != Expiry.ESCALATE:
                    await self._expire(clock, tx)
                else:
                    self._escalate(clock, level, at, tx)
                    if level == Level.YELLOW and clock.county:
                        await self._order_from_yellow(clock, at, tx)
        for order in clocks.orders_due(self._state):
            if order.respond_by <= tx.now:
                self._order_overdue(order, tx)
        if tx.events:
            await self._commit(tx)

    async def _expire(self, clock: Clock, tx: Tx) -> None:
        s = self._state
        if clock.expiry == Expiry.DEEM_ACCEPTED:
            # Deemed accepted as of arrival (Licensing Law art. 32); a red card for the office.
            self._escalate(clock, Level.RED, clock.deadline, tx)
            s.deemed_accepted = True
            self._history(tx, SYSTEM, "deemed_accept", s.stage, s.stage, "acceptance window passed")
            self._event(tx, SYSTEM, "action", "deemed_accept", to_stage=s.stage)
            await self._accept(tx, as_of=s.arrived_at or clock.started_at)
        elif clock.expiry == Expiry.LAPSE:
            self._close(tx, system_command("lapse"), Stage.LAPSED)
        elif clock.expiry == Expiry.GAP_LAPSE:
            self._lapse_gap(clock, tx)
        elif clock.expiry == Expiry.DEFAULT_RATING:
            s.rating = RatingInfo(score=self._policy.default_rating, at=tx.now, is_default=True)
            if workflow.patched(RATING_CHANNELS):
                s.rating.channel = RatingChannel.DEFAULT
            await self._after_rating(tx, SYSTEM)
        elif clock.expiry == Expiry.NOTICE:
            clocks.drop_clocks(self._state, clock.name)
            self._event(
                tx,
                SYSTEM,
                "escalation",
                None,
                level=Level.REMINDER,
                clock=clock.name,
                deadline=clock.deadline,
                office=clock.office,
                note="gap materials due",
            )
            self._notify(tx, clock.office, "staff", "容缺受理材料已到期，请核查是否补齐")
        else:  # Expiry.CLOSE
            clocks.drop_clocks(self._state, clock.name)
            closed = "appeal window" if clock.name == ClockName.APPEAL else "fix rating window"
            self._event(tx, SYSTEM, "stage", None, clock=clock.name, note=f"{closed} closed")

    def _lapse_gap(self, clock: Clock, tx: Tx) -> None:
        """The gap's due date passed without ``supply_gap``: the request closes as lapsed, and
        the agent tells the resident (the service notice says it too)."""
        s = self._state
        materials = gaps.materials_text(s)
        gaps.end(s, gaps.LAPSED)
        self._close(tx, system_command("lapse", note=gaps.NOT_SUPPLIED), Stage.LAPSED)
        self._notify(
            tx,
            s.village,
            "agent",
            f"“{s.item_name}”容缺材料（{materials}）未在承诺期限内补齐，申请已终止，请告知申请人",
        )
        self._notify(tx, clock.office, "staff", f"“{s.item_name}”容缺材料逾期未补齐，申请已终止")

    # --- clocks --------------------------------------------------------------------------------

    async def _start_clocks(
        self,
        tx: Tx,
        queries: list[ClockQuery],
        *,
        offices: dict[str, str],
        expiry: dict[str, str] | None = None,
        expected_steps: list[LimitSpec] | None = None,
        expected_from: datetime | None = None,
    ) -> None:
        batch = DeadlineBatch(clocks=list(queries))
        if expected_steps:
            batch.clocks.append(
                clocks.query("expected", expected_from or tx.now, expected_steps, ladder=False)
            )
        result = await self._compute(batch)
        for query, times in zip(batch.clocks, result.clocks, strict=True):
            if query.name == "expected":
                self._state.expected_at, self._expected = times.deadline, query
                continue
            clocks.drop_clocks(self._state, query.name)
            self._state.clocks.append(
                Clock(
                    name=query.name,
                    office=offices[query.name],
                    started_at=query.start,
                    deadline=times.deadline,
                    provisional=times.provisional,
                    statutory=times.statutory,
                    reminder_at=times.reminder_at,
                    yellow_at=times.yellow_at,
                    expiry=(expiry or {}).get(query.name, Expiry.ESCALATE),
                    query=query,
                    warning_at=times.warning_at,
                    county=self._county,
                )
            )

    async def _project_expected(self, tx: Tx, official_deadline: datetime) -> None:
        expected = clocks.query(
            "expected", official_deadline, [clocks.wd(self._policy.delivery_days)], ladder=False
        )
        result = await self._compute(DeadlineBatch(clocks=[expected]))
        self._state.expected_at = result.clocks[0].deadline
        # From now on the promise follows the (extended) official deadline.
        self._expected = replace(expected, after=ClockName.OFFICIAL)

    def _refresh_derived(self) -> None:
        s = self._state
        primary = clocks.primary_clock(s)
        s.deadline = primary.deadline if primary else None
        s.deadline_provisional = primary.provisional if primary else False
        s.overdue = clocks.overdue_level(s)
        s.service_notice = service_notice(s)

    def _records_outside_lock(self) -> bool:
        """Whether transitions are queued for the recorder (patch ``RECORD_OUTSIDE_LOCK``):
        decided once per run, at its start, and the recorder's loop started with it."""
        if self._record_outside_lock is None:
            self._record_outside_lock = workflow.patched(RECORD_OUTSIDE_LOCK)
            if self._record_outside_lock:
                self._recorder.start()
        return self._record_outside_lock

    def _numbers_given(self, recorded: object) -> None:
        """What a recording answers: the numbers it gave to orders it recorded first."""
        if isinstance(recorded, dict):
            orders.assign_numbers(self._state, dict(recorded.get("order_numbers") or {}))

    async def _commit(self, tx: Tx) -> None:
        s = self._state
        if s.status == "closed":
            for order in orders.close_open(s, tx.now):
                note = f"{orders.label(order)}: request closed"
                self._event(tx, SYSTEM, "action", "close_order", office=order.office, note=note)
        s.version += 1
        s.updated_at = tx.now
        self._refresh_derived()
        if self._records_outside_lock():
            # Decided now; written in order by the recorder, from a copy of the state as it is.
            snapshot = copy.deepcopy(s)
            self._recorder.queue(
                TransitionRecord(
                    state=snapshot,
                    events=tx.events,
                    notifications=tx.notifications,
                    notices=tx.notices,
                )
            )
            self._upsert_search_attributes()
            self._wake = True
            return
        record = TransitionRecord(
            state=s, events=tx.events, notifications=tx.notifications, notices=tx.notices
        )
        if workflow.patched(RECORD_AFTER_COMMIT):
            # A regular activity is scheduled only once the workflow task that decided this
            # transition is committed. A local activity runs inside that task: when the task was
            # lost (worker killed, server restarted) its write stayed in the ledger and the read
            # model for a transition the workflow never made.
            recorded = await workflow.execute_activity(
                "record_transition",
                record,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
            self._numbers_given(recorded)
        else:
            await workflow.execute_local_activity(
                "record_transition",
                record,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
        self._recorded = s.version
        self._upsert_search_attributes()
        self._wake = True

    def _upsert_search_attributes(self) -> None:
        s = self._state
        values: dict[str, object] = {
            sa.STAGE.name: s.stage,
            sa.OFFICE.name: s.responsible_office,
            sa.TOWNSHIP.name: s.township,
            sa.ITEM.name: s.item,
            sa.OVERDUE.name: s.overdue,
            sa.DEADLINE.name: s.deadline,
        }
        if values == self._search:
            return  # an upsert is a history event: only when something changed
        self._search = values
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STAGE.value_set(s.stage),
            sa.OFFICE.value_set(s.responsible_office),
            sa.TOWNSHIP.value_set(s.township),
            sa.ITEM.value_set(s.item),
            sa.OVERDUE.value_set(s.overdue),
            sa.DEADLINE.value_set(s.deadline) if s.deadline else sa.DEADLINE.value_unset(),
        ]
        workflow.upsert_search_attributes(updates)

    async def _compute(self, batch: DeadlineBatch) -> DeadlineResult:
        batch.reminder_days = self._policy.reminder_days
        batch.yellow_fraction = self._policy.yellow_fraction
        batch.statutory_rung = workflow.patched(STATUTORY_OWN_RUNG)
        batch.county = self._policy.ladder if self._county else None
        result: DeadlineResult = await workflow.execute_local_activity(
            "compute_deadlines",
            batch,
            result_type=DeadlineResult,
            start_to_close_timeout=COMPUTE_TIMEOUT,
            retry_policy=COMPUTE_RETRY,
        )
        return result

    def _finished(self) -> bool:
        return self._state.status == "closed" and not self._state.clocks


def local_day(moment: datetime | None) -> str | None:
    """The service's local date of an instant, as a notice prints it."""
    return moment.astimezone(CST).date().isoformat() if moment is not None else None


def system_command(action: str, note: str | None = None) -> ActionCommand:
    """A command issued by the workflow itself (a lapse when the supplement window passes)."""
    return ActionCommand(action=action, actor=SYSTEM, note=note)
