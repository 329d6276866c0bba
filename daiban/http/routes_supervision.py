"""Routes of supervision and reference data: ledger events, chain verification, statistics, the
catalog and the offices. All of it is read from the database; none of it asks Temporal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from daiban.domain.catalog import ServiceItem
from daiban.domain.scope import Principal
from daiban.http.deps import CatalogDep, OversightDep, PrincipalDep, ServicesDep
from daiban.http.problems import not_found, responses
from daiban.store import office_ratings, readmodel
from daiban.store.ledger import Verification, verify
from daiban.store.orders import OrderFilters, list_orders, order_counts
from models.contracts import Role
from models.db import Office
from models.schemas import (
    PRINTABLE,
    EventPage,
    EventsQuery,
    LedgerEventOut,
    OfficeList,
    OfficeOut,
    OfficesQuery,
    OfficeStats,
    OrderListOut,
    OrderPage,
    OrdersQuery,
    RatedOfficesOut,
    RatedOfficeStats,
    StatsOut,
    StatsQuery,
    VerifyOut,
)

router = APIRouter(prefix="/v1")


def _day_start(day: date | None, tz: tzinfo) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), tzinfo=tz)


def _created(query: StatsQuery, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    """The statistics' [from, to] local dates as the instants [from 00:00, the day after to)."""
    to = query.to + timedelta(days=1) if query.to is not None else None
    return _day_start(query.from_, tz), _day_start(to, tz)


@router.get(
    "/supervision/events",
    response_model=EventPage,
    tags=["supervision"],
    responses=responses(401, 403, 422),
)
async def events(
    query: Annotated[EventsQuery, Query()], principal: OversightDep, services: ServicesDep
) -> EventPage:
    """Supervision ledger rows of requests in scope, newest first."""
    since = services.local_time(query.since)
    filters = readmodel.EventFilters(query.request, query.level, query.office, since)
    page = await services.db(readmodel.ledger_events, principal, filters, query.limit, query.cursor)
    items = [
        LedgerEventOut.model_validate(
            {
                **row.model_dump(),
                "at": row.at.astimezone(services.tz),
                "deadline": row.deadline.astimezone(services.tz) if row.deadline else None,
            }
        )
        for row in page.rows
    ]
    return EventPage(items=items, next_cursor=page.next_cursor)


@router.get(
    "/supervision/orders",
    response_model=OrderPage,
    tags=["supervision"],
    responses=responses(401, 403, 422),
)
async def orders(
    query: Annotated[OrdersQuery, Query()], principal: PrincipalDep, services: ServicesDep
) -> OrderPage:
    """Supervision orders (督办单), oldest response deadline first: a supervisor's over the
    requests in its scope, staff's those addressed to their office."""
    filters = OrderFilters(query.status, query.office, query.township, query.overdue)
    page = await services.db(list_orders, principal, filters, query.limit, query.cursor)
    return order_page(page, services.tz)


def order_page(page: readmodel.Page, tz: tzinfo) -> OrderPage:
    """A page of order rows as the API answers it, times in the offices' zone (also what the
    console shows for rows it read itself)."""
    items = [
        OrderListOut.model_validate(
            {
                **row.model_dump(),
                **{
                    name: value.astimezone(tz)
                    for name in ("issued_at", "respond_by", "replied_at", "closed_at")
                    if (value := getattr(row, name)) is not None
                },
            }
        )
        for row in page.rows
    ]
    return OrderPage(items=items, next_cursor=page.next_cursor)


def _verify_in_scope(
    session: Session, principal: Principal, request_id: str | None
) -> Verification | None:
    if request_id is not None:
        if readmodel.request_in_scope(session, principal, request_id) is None:
            return None
        return verify(session, request_id)
    if principal.role == Role.ADMIN:
        # Every chain, those whose read-model row has not landed yet too.
        return verify(session)
    # A supervisor: every chain of its township, or of its city and no other.
    return verify(session, within=readmodel.ids_in_scope(principal))


@router.get(
    "/supervision/verify",
    response_model=VerifyOut,
    tags=["supervision"],
    responses=responses(401, 403, 404, 422),
)
async def verify_chains(
    principal: OversightDep,
    services: ServicesDep,
    request: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
) -> VerifyOut:
    """Re-check the ledger's hash chains: one request, or every request in scope."""
    result = await services.db(_verify_in_scope, principal, request)
    if result is None:
        raise not_found()
    return VerifyOut(ok=result.ok, checked=result.checked, broken=result.broken)


@router.get(
    "/stats", response_model=StatsOut, tags=["supervision"], responses=responses(401, 403, 422)
)
async def stats(
    query: Annotated[StatsQuery, Query()], principal: OversightDep, services: ServicesDep
) -> StatsOut:
    """Per township (requests created in [from, to], local dates): volumes, timeliness,
    escalations, satisfaction and the supervision orders issued over them."""
    created = _created(query, services.tz)
    rows = await services.db(
        readmodel.township_stats,
        principal,
        services.tz,
        query.township,
        *created,
        query.community,
    )
    orders = await services.db(order_counts, principal, query.township, *created, query.community)
    return stats_out(rows, orders)


@router.get(
    "/stats/ratings",
    response_model=RatedOfficesOut,
    tags=["supervision"],
    responses=responses(401, 403, 422),
)
async def rated_offices(
    query: Annotated[StatsQuery, Query()], principal: OversightDep, services: ServicesDep
) -> RatedOfficesOut:
    """Per office that served the residents (village proxy rooms, township centers, city
    centers), the ratings they gave it, over requests created in [from, to]: a tier rated bad
    under a good overall score counts bad for that tier's office."""
    created = _created(query, services.tz)
    rows = await services.db(
        office_ratings.office_ratings, principal, query.township, *created, query.community
    )
    return RatedOfficesOut(offices=[RatedOfficeStats(**row) for row in rows])


def stats_out(
    rows: list[dict[str, Any]], orders: Mapping[str, tuple[int, int]] | None = None
) -> StatsOut:
    """``readmodel.township_stats`` rows as the API answers them, with the supervision orders
    issued and overdue per township (``orders.order_counts``; none given, none counted)."""
    counts = orders or {}
    return StatsOut(
        offices=[
            OfficeStats(
                **row,
                orders_issued=counts.get(row["office"], (0, 0))[0],
                orders_overdue=counts.get(row["office"], (0, 0))[1],
            )
            for row in rows
        ]
    )


# --- reference data ----------------------------------------------------------------------------


@router.get("/catalog", tags=["reference"], responses=responses(401, 403))
async def catalog(principal: PrincipalDep, catalog: CatalogDep) -> dict[str, list[ServiceItem]]:
    """The service items: code, name, deciding tier, limits and required materials."""
    return {"items": list(catalog.items)}


def _offices(session: Session, tier: str | None, parent: str | None) -> list[Office]:
    query = select(Office).order_by(col(Office.code))
    if tier is not None:
        query = query.where(col(Office.tier) == tier)
    if parent is not None:
        query = query.where(col(Office.parent) == parent)
    return list(session.exec(query).all())


@router.get(
    "/offices", response_model=OfficeList, tags=["reference"], responses=responses(401, 403, 422)
)
async def offices(
    query: Annotated[OfficesQuery, Query()], principal: PrincipalDep, services: ServicesDep
) -> OfficeList:
    rows = await services.db(_offices, query.tier, query.parent)
    return OfficeList(items=[OfficeOut.model_validate(row.model_dump()) for row in rows])
