"""The escalation ladder's cards and the supervision orders (督办单) of a request (docs/design.md
§3): the steps of ``ResidentRequestWorkflow`` that raise them.

A rung of a clock's ladder notifies the offices it reaches and is recorded as an escalation; under
the county ladder the yellow card is also an order from the office above, and an order still open
at its response deadline raises the red card. A supervisor issues an order by hand, the addressed
office replies, the issuing office accepts the reply or returns it with a new response deadline.
The orders themselves are pure helpers in ``workflows.orders``.

``SupervisionSteps`` is a mixin of the workflow class (``workflows.transition`` says how): the
rungs the ladder fires and the order actions run its methods under the workflow's lock.
"""

from __future__ import annotations

from datetime import datetime

from models.contracts import (
    ActionCommand,
    Actor,
    Clock,
    ClockName,
    DeadlineBatch,
    Escalation,
    LadderPolicy,
    Level,
    OrderQuery,
    SupervisionOrder,
)
from workflows import clocks, orders
from workflows.notice import CST, local_time
from workflows.transition import SYSTEM, Transitions, Tx

# What a yellow card's supervision order says was missed, by clock (the rest: 办理期限).
OVERDUE_LIMITS: dict[str, str] = {
    ClockName.CALLBACK: "差评回访期限",
    ClockName.RECTIFICATION: "差评整改期限",
    ClockName.RECTIFY_DUE: "限期整改期限",
}


class SupervisionSteps(Transitions):
    """The escalation and supervision-order steps of the request workflow."""

    # --- the ladder's cards --------------------------------------------------------------------

    def _escalate(self, clock: Clock, level: str, at: datetime, tx: Tx) -> None:
        s = self._state
        deadline = (
            clock.statutory if level == Level.STATUTORY and clock.statutory else clock.deadline
        )
        s.escalations.append(
            Escalation(
                at=tx.now, clock=clock.name, level=level, deadline=deadline, office=clock.office
            )
        )
        if level in (Level.RED, Level.STATUTORY):
            s.red_flag = True
        self._event(
            tx,
            SYSTEM,
            "escalation",
            None,
            level=level,
            clock=clock.name,
            deadline=deadline,
            office=clock.office,
            note=f"rung due {at.isoformat()}",
        )
        message = f"【{level}】{s.item_name} {clock.name} 期限 {deadline.isoformat()}"
        for office, role in clocks.recipients(s, clock.office, level):
            self._notify(tx, office, role, message, level=level)

    # --- supervision orders (督办单) -----------------------------------------------------------

    async def _issue_order(
        self,
        tx: Tx,
        actor: Actor,
        *,
        issuing_office: str,
        office: str,
        reason: str,
        days: int | None,
        clock: str | None = None,
        since: datetime | None = None,
    ) -> SupervisionOrder:
        """``since``: the instant the response time counts from (the yellow card's rung, which
        the timer fires a little after), by default now."""
        ladder = self._policy_ladder()
        respond_by = await self._respond_by(since or tx.now, days or ladder.order_response_days)
        order = orders.new_order(
            self._state,
            issuing_office=issuing_office,
            office=office,
            reason=reason,
            issued_at=tx.now,
            issued_by=actor.sub,
            respond_by=respond_by,
            clock=clock,
        )
        role = "agent" if office == self._state.village else "staff"
        self._notify(
            tx,
            office,
            role,
            f"督办单：“{self._state.item_name}”{reason}，请于{local_time(respond_by)}前答复。",
        )
        return order

    def _order_notice(self, tx: Tx, order: SupervisionOrder) -> None:
        """The supervision notice (督办通知书) of an order, issued with the event that records it;
        the recording puts the addressed office's name in it."""
        self._notice(
            tx,
            "supervision",
            order.issuing_office,
            to_office=order.office,
            reason=order.reason,
            response_due=order.respond_by.astimezone(CST).date().isoformat(),
        )

    async def _respond_by(self, since: datetime, days: int) -> datetime:
        result = await self._compute(DeadlineBatch(orders=[OrderQuery(since, days)]))
        return result.respond_by[0]

    async def _order_from_yellow(self, clock: Clock, at: datetime, tx: Tx) -> None:
        """The yellow card is an order from the office above to finish by a date."""
        s = self._state
        # Requests rated before callbacks keep the words their orders always had.
        limit = (OVERDUE_LIMITS.get(clock.name) if self._callbacks else None) or "办理期限"
        reason = f"已超过{limit}（{local_time(clock.deadline)}），限期办结"
        order = await self._issue_order(
            tx,
            SYSTEM,
            issuing_office=clocks.tier_above(s, clock.office),
            office=clock.office,
            reason=reason,
            days=None,
            clock=clock.name,
            since=at,
        )
        note = f"{orders.label(order)} to {order.office}: {reason}"
        self._history(tx, SYSTEM, "issue_order", s.stage, s.stage, note)
        self._event(
            tx,
            SYSTEM,
            "action",
            "issue_order",
            office=order.issuing_office,
            deadline=order.respond_by,
            note=note,
        )
        self._order_notice(tx, order)

    def _order_overdue(self, order: SupervisionOrder, tx: Tx) -> None:
        """An order still open at its response deadline: the red card, and accountability."""
        s = self._state
        order.overdue = True
        s.red_flag = True
        s.escalations.append(
            Escalation(
                at=tx.now,
                clock="order",
                level=Level.RED,
                deadline=order.respond_by,
                office=order.office,
            )
        )
        self._event(
            tx,
            SYSTEM,
            "escalation",
            None,
            level=Level.RED,
            clock="order",
            deadline=order.respond_by,
            office=order.office,
            note=f"supervision order {orders.label(order)} unanswered (问责)",
        )
        message = f"【red】{s.item_name} 督办单 {orders.label(order)} 逾期未答复"
        for office, role in clocks.recipients(s, order.office, Level.RED):
            self._notify(tx, office, role, message, level=Level.RED)

    async def _do_issue_order(self, cmd: ActionCommand, tx: Tx) -> None:
        assert cmd.note is not None
        s = self._state
        order = await self._issue_order(
            tx,
            cmd.actor,
            issuing_office=cmd.actor.office,
            office=s.responsible_office,
            reason=cmd.note,
            days=cmd.days,
        )
        self._move(tx, cmd, s.stage, note=f"{orders.label(order)} to {order.office}: {cmd.note}")
        self._order_notice(tx, order)

    async def _do_reply_order(self, cmd: ActionCommand, tx: Tx) -> None:
        assert cmd.note is not None
        order = orders.by_number(self._state, cmd.order)
        order.status, order.reply = "replied", cmd.note
        order.replied_at, order.replied_by = tx.now, cmd.actor.sub
        self._move(tx, cmd, self._state.stage, note=f"{order.number}: {cmd.note}")
        self._notify(
            tx, order.issuing_office, "supervisor", f"督办单 {order.number} 已答复，请审核"
        )

    async def _do_review_order(self, cmd: ActionCommand, tx: Tx) -> None:
        order = orders.by_number(self._state, cmd.order)
        if cmd.accepted:
            order.status, order.outcome, order.closed_at = "closed", orders.ACCEPTED, tx.now
            note, message = f"{order.number}: accepted", f"督办单 {order.number} 已办结"
        else:
            order.respond_by = await self._respond_by(
                tx.now, cmd.days or self._policy_ladder().order_response_days
            )
            # Open again with a new response deadline, which raises its own red card if missed.
            order.status, order.returned, order.overdue = "open", order.returned + 1, False
            when = order.respond_by.isoformat()
            note = f"{order.number}: returned, respond by {when}"
            message = f"督办单 {order.number} 答复被退回，请于 {when} 前重新答复"
        self._move(tx, cmd, self._state.stage, note=note + (f" ({cmd.note})" if cmd.note else ""))
        role = "agent" if order.office == self._state.village else "staff"
        self._notify(tx, order.office, role, message)

    def _policy_ladder(self) -> LadderPolicy:
        ladder = self._policy.ladder
        assert ladder is not None  # orders exist under the county ladder only
        return ladder
