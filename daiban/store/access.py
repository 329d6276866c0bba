"""The access record: who read a resident's unmasked data, when, of which request and through
which endpoint (docs/design.md §6; ``GET /v1/supervision/access``).

Written by the HTTP layer for every answer that carries a resident in the clear (the API's
request states, the codec endpoint's decoded payloads); read by supervisors within their scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from daiban.domain.scope import Principal, supervised_field
from models.contracts import Role
from models.db import AccessRow

LIMIT = 500


def record(
    session: Session,
    principal: Principal,
    requests: Iterable[tuple[str, str, str]],
    endpoint: str,
    at: datetime,
) -> None:
    """One row per request (id, township, city) whose resident this principal just read."""
    for request_id, township, city in requests:
        session.add(
            AccessRow(
                at=at,
                sub=principal.sub,
                role=principal.role,
                office=principal.office,
                request_id=request_id,
                township=township,
                city=city,
                endpoint=endpoint,
            )
        )


def rows(
    session: Session,
    principal: Principal,
    request_id: str | None = None,
    since: datetime | None = None,
    limit: int = LIMIT,
) -> Sequence[AccessRow]:
    """The access rows within a supervisor's scope (an admin's: all), newest first."""
    query = select(AccessRow)
    if principal.role != Role.ADMIN:
        field = supervised_field(principal)
        query = query.where(col(getattr(AccessRow, field)) == principal.office)
    if request_id is not None:
        query = query.where(col(AccessRow.request_id) == request_id)
    if since is not None:
        query = query.where(col(AccessRow.at) >= since)
    query = query.order_by(col(AccessRow.at).desc(), col(AccessRow.id).desc()).limit(limit)
    return session.exec(query).all()
