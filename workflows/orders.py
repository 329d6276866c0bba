"""Supervision orders (督办单) of a request: pure helpers over its state, no Temporal calls.

An order is issued by a yellow card (to the office whose clock passed its deadline, from the
office supervising it) or by a supervisor by hand; the addressed office replies; the issuing
office accepts the reply (the order closes) or returns it with a new response deadline. An order
still open at its response deadline raises the red card (docs/design.md §3).
"""

from __future__ import annotations

from datetime import datetime

from models.contracts import RequestState, SupervisionOrder

ACCEPTED = "accepted"
REQUEST_CLOSED = "request_closed"


def new_order(
    state: RequestState,
    *,
    issuing_office: str,
    office: str,
    reason: str,
    issued_at: datetime,
    issued_by: str,
    respond_by: datetime,
    clock: str | None = None,
) -> SupervisionOrder:
    """A new open order, added to the request. Its key names it until the recording gives it its
    number (gapless per issuing office and year, so only the database can)."""
    order = SupervisionOrder(
        key=f"{state.id}:o{len(state.orders) + 1}",
        issuing_office=issuing_office,
        office=office,
        reason=reason,
        issued_at=issued_at,
        issued_by=issued_by,
        respond_by=respond_by,
        clock=clock,
    )
    state.orders.append(order)
    return order


def label(order: SupervisionOrder) -> str:
    """How messages name an order: its number once it has one."""
    return order.number or order.key


def by_number(state: RequestState, number: str | None) -> SupervisionOrder:
    order = next((o for o in state.orders if number and o.number == number), None)
    if order is None:  # the rules checked it before the handler ran
        raise KeyError(number)
    return order


def close_open(state: RequestState, at: datetime) -> list[SupervisionOrder]:
    """A closed request closes its open orders (outcome: the request closed)."""
    closed = []
    for order in state.orders:
        if order.status != "closed":
            order.status, order.outcome, order.closed_at = "closed", REQUEST_CLOSED, at
            closed.append(order)
    return closed


def assign_numbers(state: RequestState, numbers: dict[str, str]) -> None:
    """The numbers the recording gave to orders it recorded first."""
    for order in state.orders:
        if order.number is None and order.key in numbers:
            order.number = numbers[order.key]
