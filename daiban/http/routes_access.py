"""``GET /v1/supervision/access``: who read a resident's unmasked data, when, of which request
and through which endpoint (the access record, ``daiban.store.access``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from daiban.http.deps import OversightDep, ServicesDep
from daiban.http.problems import responses
from daiban.store import access
from models.schemas import PRINTABLE, QueryTime

router = APIRouter(prefix="/v1", tags=["supervision"])


class AccessQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request: Annotated[str, Field(max_length=64, pattern=PRINTABLE)] | None = None
    since: QueryTime | None = None


class AccessOut(BaseModel):
    at: datetime
    sub: str = Field(description="who read it (the token's subject)")
    role: str
    office: str
    request: str
    endpoint: str = Field(description="`request` (the API's request state) or `codec`")


class AccessList(BaseModel):
    items: list[AccessOut]


@router.get("/supervision/access", response_model=AccessList, responses=responses(401, 403, 422))
async def access_record(
    query: Annotated[AccessQuery, Query()], principal: OversightDep, services: ServicesDep
) -> AccessList:
    """Reads of residents' unmasked data for requests in the caller's scope, newest first."""
    since = services.local_time(query.since)
    rows = await services.db(access.rows, principal, query.request, since)
    return AccessList(
        items=[
            AccessOut(
                at=row.at.astimezone(services.tz),
                sub=row.sub,
                role=row.role,
                office=row.office,
                request=row.request_id,
                endpoint=row.endpoint,
            )
            for row in rows
        ]
    )
