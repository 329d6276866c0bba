"""Accept with a gap (容缺受理) by the published rules (docs/design.md §4a): pure helpers over a
request's state, no Temporal calls.

A gap opens at acceptance with the materials of the item's gap list that are missing, their due
date and the resident's written commitment; it stays ``open`` until the agent reports the
materials arrived (``supplied``), the request is decided or withdrawn (``closed``), or its due
date passes (``lapsed``, and the request with it).
"""

from __future__ import annotations

from datetime import datetime

from models.contracts import ActionCommand, GapInfo, RequestState

OPEN, SUPPLIED, LAPSED, CLOSED = "open", "supplied", "lapsed", "closed"
# The reason a request closes when its gap's due date passes unsupplied (ledger and history).
NOT_SUPPLIED = "gap not supplied"


def open_gap(state: RequestState, cmd: ActionCommand, now: datetime) -> GapInfo:
    """The gap an accept-with-gap opens, held by the office that accepted it."""
    assert cmd.due is not None and cmd.missing_materials is not None
    assert cmd.commitment is not None
    state.gap = GapInfo(
        materials=list(cmd.missing_materials),
        due=cmd.due,
        commitment=cmd.commitment,
        commitment_by=cmd.commitment_by or "resident",
        authorisation=cmd.authorisation,
        office=state.responsible_office,
        opened_at=now,
    )
    return state.gap


def is_open(state: RequestState) -> bool:
    return state.gap is not None and state.gap.status == OPEN


def supply(state: RequestState, by: str, now: datetime) -> None:
    """The gap's materials arrived (``supply_gap``, or the complete list of a supplement)."""
    if state.gap is not None and state.gap.status == OPEN:
        state.gap.status, state.gap.supplied_at, state.gap.supplied_by = SUPPLIED, now, by


def end(state: RequestState, status: str) -> None:
    """An open gap ends with the request's decision, withdrawal or lapse."""
    if state.gap is not None and state.gap.status == OPEN:
        state.gap.status = status


def with_gap_materials(state: RequestState, materials: list[str]) -> list[str]:
    """A supplement's complete list: an open gap's materials are part of it."""
    if not is_open(state):
        return list(materials)
    assert state.gap is not None
    return [*materials, *(m for m in state.gap.materials if m not in materials)]


def materials_text(state: RequestState) -> str:
    return "、".join(state.gap.materials if state.gap is not None else state.missing_materials)
