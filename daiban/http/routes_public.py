"""Routes without login, for residents and the public.

``GET /v1/public/progress``: a resident looks up their own request by its number (办件编号, on the
registration slip) and the last four characters of their ID number. The answer is the stage in
words, the service notice and the expected date — nothing else, no name and no office's work.
Whatever does not match (no such number, other digits, a request registered before numbers) is
the same 404, and lookups are limited per client address, so numbers and digits cannot be
enumerated.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from daiban.domain import labels
from daiban.http.deps import Services, ServicesDep
from daiban.http.problems import NotFound, responses
from daiban.store import residents
from models.db import RequestRow

router = APIRouter(prefix="/v1/public", tags=["public"])
NO_MATCH = "no request with this number and these ID digits"
NUMBER_PATTERN = r"^\d{6}-\d{8}-\d{4,6}$"
LAST4_PATTERN = r"^\d{3}[\dXx]$"


class ProgressOut(BaseModel):
    """What a resident may read of their own request without logging in."""

    number: str = Field(description="the request's number, as asked")
    stage: str = Field(description="the stage in words, e.g. 乡镇受理中")
    service_notice: str = Field(description="one paragraph for the resident: where it is, by when")
    expected_at: datetime | None = Field(description="when the result is expected")


def _find(session: Session, number: str) -> RequestRow | None:
    return session.exec(select(RequestRow).where(col(RequestRow.number) == number)).first()


@router.get("/progress", response_model=ProgressOut, responses=responses(404, 422, 429))
async def progress(
    request: Request,
    services: ServicesDep,
    number: Annotated[
        str,
        Query(
            pattern=NUMBER_PATTERN,
            description="the 办件编号, e.g. 370285-20261201-0042",
        ),
    ],
    id_last4: Annotated[
        str,
        Query(pattern=LAST4_PATTERN, description="the last four characters of the ID number"),
    ],
) -> ProgressOut:
    client = request.client.host if request.client is not None else "unknown"
    return await lookup(services, client, number, id_last4)


async def lookup(services: Services, client: str, number: str, id_last4: str) -> ProgressOut:
    """The lookup behind the endpoint and the console's page (inputs already well-formed)."""
    services.progress_limiter.check(client)
    row = await services.db(_find, number)
    if row is None:
        raise NotFound(NO_MATCH)
    shown = residents.masked_resident(row.state).id_number[-4:]
    # Constant time: the answer's timing tells nothing of how many characters matched.
    if not hmac.compare_digest(shown.upper().encode(), id_last4.upper().encode()):
        raise NotFound(NO_MATCH)
    expected = row.expected_at.astimezone(services.tz) if row.expected_at else None
    return ProgressOut(
        number=number,
        stage=labels.name(labels.STAGES, row.stage),
        service_notice=str(row.state.get("service_notice", "")),
        expected_at=expected,
    )
