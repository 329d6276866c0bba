"""One transition of the request workflow, and what its steps may use of the workflow.

A transition collects what it writes in a ``Tx`` while the state changes, and the workflow records
it once (``ResidentRequestWorkflow._commit``). The steps that live beside the workflow
(``workflows.rating``, ``workflows.supervision``) are methods of mixin classes of it: each mixin
subclasses ``RequestWorkflow``, which declares the state and the shared transition helpers the
workflow class defines, so that they type-check apart from it. The declarations have no bodies
and no effect at run time: the workflow class's own methods are the ones that run.

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
    LedgerEvent,
    LimitSpec,
    NoticeRequest,
    Notification,
    Policy,
    RequestState,
    Role,
)

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
    """The state and the transition helpers of ``ResidentRequestWorkflow`` its mixins use."""

    _state: RequestState
    _policy: Policy
    # Patch ``RECTIFICATION_CALLBACK``, decided at the first task.
    _callbacks: bool

    def _move(
        self,
        tx: Tx,
        cmd: ActionCommand,
        to: str,
        office: str | None = None,
        *,
        note: str | None = None,
        kind: str = "action",
    ) -> None: ...

    def _close(self, tx: Tx, cmd: ActionCommand, stage: str, *, kind: str = "action") -> None: ...

    def _history(
        self,
        tx: Tx,
        actor: Actor,
        action: str,
        before: str | None,
        to: str | None,
        note: str | None,
    ) -> None: ...

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
    ) -> None: ...

    def _notice(self, tx: Tx, kind: str, office: str, **fields: object) -> None: ...

    def _notify(
        self, tx: Tx, office: str, role: str, message: str, level: str | None = None
    ) -> None: ...

    def _scope_supervisor(self) -> str: ...

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
