"""One transition of the request workflow: what it writes, and how its steps write it.

A transition collects what it writes in a ``Tx`` while the state changes: the history entries,
the ledger events (keyed by the state version the transition will get, so a retried recording is
idempotent), the written notices and the notifications; the workflow records it once
(``ResidentRequestWorkflow._commit``). ``Transitions`` holds the helpers that write them, shared
by the workflow class and the steps that live beside it (``workflows.rating``,
``workflows.supervision``), which are mixins of it. ``RequestWorkflow`` declares what of the
workflow class they use, so that each module type-checks on its own; the declarations have no
bodies and no effect at run time: the workflow class's own members are the ones that run.

Deterministic like the workflow: nothing here calls Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from models.contracts import (
    ActionCommand,
    Actor,
    ClockQuery,
    DeadlineBatch,
    DeadlineResult,
    HistoryEntry,
    LedgerEvent,
    LimitSpec,
    NoticeRequest,
    Notification,
    Policy,
    RequestState,
    Role,
    Stage,
)
from workflows import gap as gaps

# The actor of the workflow's own transitions (rungs, lapses, default ratings, yellow-card orders).
SYSTEM = Actor(sub="system", role=Role.SYSTEM, office="system")


@dataclass
class Tx:
    """What one transition writes: collected while the state changes, recorded once."""

    now: datetime
    events: list[LedgerEvent] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    notices: list[NoticeRequest] = field(default_factory=list)


class RequestWorkflow(Protocol):
    """What of ``ResidentRequestWorkflow`` its transitions and its mixins use: the state, the
    policy snapshot, patch decisions taken at the first task, and its clocks."""

    _state: RequestState
    _policy: Policy
    # Patches ``RECTIFICATION_CALLBACK`` and ``WRITTEN_NOTICES``, decided at the first task.
    _callbacks: bool
    _notices: bool

    async def _start_clocks(
        self,
        tx: Tx,
        queries: list[ClockQuery],
        *,
        offices: dict[str, str],
        expiry: dict[str, str] | None = None,
        expected_steps: list[LimitSpec] | None = None,
        expected_from: datetime | None = None,
    ) -> None: ...

    async def _compute(self, batch: DeadlineBatch) -> DeadlineResult: ...


class Transitions(RequestWorkflow):
    """State changes, history entries, ledger events, notices and notifications: how every step
    of the workflow, here or in a mixin, writes what it did into its transition's ``Tx``."""

    def _move(
        self,
        tx: Tx,
        cmd: ActionCommand,
        to: str,
        office: str | None = None,
        *,
        note: str | None = None,
        kind: str = "action",
    ) -> None:
        s = self._state
        before = s.stage
        text = note if note is not None else cmd.note
        self._history(tx, cmd.actor, cmd.action, before, to, text)
        self._event(tx, cmd.actor, kind, cmd.action, from_stage=before, to_stage=to, note=text)
        s.stage = to
        if office is not None and office != s.responsible_office:
            s.responsible_office = office
            if to not in (Stage.AWAITING_RATING,):
                self._notify(
                    tx,
                    office,
                    "staff" if office != s.village else "agent",
                    f"{s.item_name} 待办：{to}",
                )

    def _arrive(self, tx: Tx, cmd: ActionCommand, stage: str, office: str) -> None:
        self._state.arrived_at = tx.now
        self._move(tx, cmd, stage, office)

    def _close(self, tx: Tx, cmd: ActionCommand, stage: str, *, kind: str = "action") -> None:
        gaps.end(self._state, gaps.CLOSED)
        self._state.clocks = []
        self._state.paused = None
        self._move(tx, cmd, stage, kind=kind)
        self._state.status = "closed"

    def _history(
        self,
        tx: Tx,
        actor: Actor,
        action: str,
        before: str | None,
        to: str | None,
        note: str | None,
    ) -> None:
        self._state.history.append(
            HistoryEntry(
                at=tx.now,
                actor=actor.sub,
                role=actor.role,
                action=action,
                from_stage=before,
                to_stage=to,
                note=note,
            )
        )

    def _event(
        self,
        tx: Tx,
        actor: Actor,
        kind: str,
        action: str | None,
        *,
        level: str | None = None,
        clock: str | None = None,
        from_stage: str | None = None,
        to_stage: str | None = None,
        deadline: datetime | None = None,
        office: str | None = None,
        note: str | None = None,
    ) -> None:
        s = self._state
        # Deterministic idempotency key: the state version this transition will get, and the
        # position of the event within it. A retried record activity sees the same keys.
        key = f"{s.id}:{s.version + 1}:{len(tx.events)}"
        tx.events.append(
            LedgerEvent(
                key=key,
                at=tx.now,
                kind=kind,
                actor=actor.sub,
                role=actor.role,
                office=office
                or (actor.office if actor.role != Role.SYSTEM else s.responsible_office),
                action=action,
                level=level,
                clock=clock,
                from_stage=from_stage,
                to_stage=to_stage,
                deadline=deadline or s.deadline,
                note=note,
            )
        )

    def _notice(self, tx: Tx, kind: str, office: str, **fields: object) -> None:
        """The written notice (文书) of the action just recorded, issued in its recording under the
        key of its ledger event, so that a retried recording never takes a second number."""
        if not self._notices:
            return
        s = self._state
        content: dict[str, object] = {"item": s.item, "item_name": s.item_name, **fields}
        if kind != "supervision":  # handed to the resident
            content["resident_name"] = s.resident.name
        key = f"{tx.events[-1].key}:notice"
        tx.notices.append(NoticeRequest(key=key, office=office, kind=kind, fields=content))

    def _notify(
        self, tx: Tx, office: str, role: str, message: str, level: str | None = None
    ) -> None:
        key = f"{self._state.id}:{self._state.version + 1}:n{len(tx.notifications)}"
        tx.notifications.append(
            Notification(
                key=key, recipient_office=office, recipient_role=role, message=message, level=level
            )
        )

    def _scope_supervisor(self) -> str:
        s = self._state
        return s.city if s.responsible_office == s.city else s.township
