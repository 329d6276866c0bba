"""Routes without login, for residents and the public.

``GET /v1/public/stats`` and ``.csv``: the monthly figures a county publishes per office (评价结果
向社会公开) — requests, decisions on time, ratings, bad ratings and their rectification — counts
and rates only, never a request or a person, from the same per-day rollup as ``/v1/stats``; and
the ratings of each office that served residents (``rated_offices``, ``/v1/public/ratings.csv``),
village proxy rooms and city centers included, as ``/v1/stats/ratings`` counts them.

``GET /v1/public/progress``: a resident looks up their own request by its number (办件编号, on the
registration slip) and the last four characters of their ID number. The answer is the stage in
words, the service notice and the expected date — nothing else, no name and no office's work.
Whatever does not match (no such number, other digits, a request registered before numbers) is
the same 404, and lookups are limited per client address, so numbers and digits cannot be
enumerated.
"""

from __future__ import annotations

import csv
import hmac
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from daiban.domain import labels
from daiban.domain.scope import Principal
from daiban.http.deps import Services, ServicesDep
from daiban.http.problems import NotFound, responses
from daiban.store import office_ratings, readmodel, residents
from models.contracts import Role
from models.db import RequestRow
from models.schemas import RatedOfficeStats

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


# --- published figures -------------------------------------------------------------------------

# Every office of the deployment, as the rollup's widest scope reads them; no person behind it.
PUBLIC_READER = Principal(sub="public", role=Role.ADMIN, office="")
MONTH = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"  # a month of this service's lifetime
COLUMNS = (
    "office", "name", "month", "requests", "completed", "rated", "bad", "satisfaction_rate",
    "bad_rate", "callback_rate", "rectified_rate", "on_time_rate", "appeals_upheld",
    "agent_unconfirmed",
)  # fmt: skip
RATED_COLUMNS = (
    "office", "name", "tier", "month", "rated", "bad", "satisfaction_rate", "bad_rate",
    "rating_1", "rating_2", "rating_3", "rating_4", "rating_5",
)  # fmt: skip


class PublicOfficeStats(BaseModel):
    office: str
    name: str | None
    month: str
    requests: int = Field(description="requests registered in the month")
    completed: int
    rated: int = Field(
        description="ratings by the resident's own act (rating link, confirmation code) and "
        "defaults, without those an upheld appeal took out"
    )
    bad: int = Field(description="ratings of 1 or 2 (差评), without upheld appeals")
    satisfaction_rate: float | None = Field(description="ratings of 3–5 over all ratings")
    bad_rate: float | None = Field(description="bad ratings over all ratings")
    callback_rate: float | None = Field(
        description="bad ratings whose resident the rated office reached by a callback (回访) "
        "within the callback limit, over the bad ratings that owed one; null when none did"
    )
    rectified_rate: float | None = Field(description="bad ratings rectified over bad ratings")
    on_time_rate: float | None = Field(description="decisions within their limit over decisions")
    appeals_upheld: int = Field(
        0, description="bad ratings taken out of these figures by an upheld appeal (申诉成立)"
    )
    agent_unconfirmed: int = Field(
        0, description="ratings an agent entered without the resident's confirmation: not rated"
    )


class PublicStats(BaseModel):
    month: str
    offices: list[PublicOfficeStats]
    rated_offices: list[RatedOfficeStats] = Field(
        default_factory=list,
        description="each office that served residents (village proxy rooms, township centers, "
        "city centers) with the ratings they gave it: its tier's score, or the overall score "
        "where it decided",
    )


def _month_bounds(month: str | None, services: Services) -> tuple[str, datetime, datetime]:
    if month is None:
        today = datetime.now(services.tz)
        month = f"{today.year:04d}-{today.month:02d}"
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=services.tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=services.tz)
    return month, start, end


def _published(row: dict[str, Any], month: str) -> PublicOfficeStats:
    ratings, upheld = row["ratings"], row["appeals_upheld"]
    # Only bad ratings are appealed: an upheld one leaves both counts.
    rated = sum(ratings.values()) - upheld
    bad = ratings["1"] + ratings["2"] - upheld
    return PublicOfficeStats(
        office=row["office"],
        name=row["name"],
        month=month,
        requests=row["total"],
        completed=row["completed"],
        rated=rated,
        bad=bad,
        satisfaction_rate=row["satisfaction_rate"],
        bad_rate=row["bad_rate"],
        callback_rate=row["callback_rate"],
        rectified_rate=row["rectified_rate"],
        on_time_rate=row["on_time_rate"],
        appeals_upheld=upheld,
        agent_unconfirmed=row["agent_unconfirmed"],
    )


async def published_figures(
    services: Services, month: str | None, *, townships: bool = True, offices: bool = True
) -> PublicStats:
    """The month's published figures (this month when None): what ``/v1/public/stats`` answers.
    Each CSV asks for its own part only (the figures per township, or the ratings per office
    served), so neither pays for the other's query."""
    month, start, end = _month_bounds(month, services)
    figures = PublicStats(month=month, offices=[])
    if townships:
        rows = await services.db(
            readmodel.township_stats, PUBLIC_READER, services.tz, None, start, end, None
        )
        figures.offices = [_published(row, month) for row in rows]
    if offices:
        rated = await services.db(office_ratings.office_ratings, PUBLIC_READER, None, start, end)
        figures.rated_offices = [RatedOfficeStats(**row) for row in rated]
    return figures


MonthQuery = Annotated[
    str | None, Query(pattern=MONTH, description="YYYY-MM (local); this month when left out")
]


@router.get("/stats", response_model=PublicStats, responses=responses(422))
async def public_stats(services: ServicesDep, month: MonthQuery = None) -> PublicStats:
    """The month's published figures per office: counts and rates only."""
    return await published_figures(services, month)


@router.get(
    "/stats.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **responses(422)},
)
async def public_stats_csv(services: ServicesDep, month: MonthQuery = None) -> Response:
    """The same figures as CSV (UTF-8 with a byte-order mark, so that Excel reads the names)."""
    stats = await published_figures(services, month, offices=False)
    rows = [office.model_dump() for office in stats.offices]
    return _csv(COLUMNS, rows, f"daiban-stats-{stats.month}.csv")


@router.get(
    "/ratings.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **responses(422)},
)
async def public_ratings_csv(services: ServicesDep, month: MonthQuery = None) -> Response:
    """The month's ratings per office served (``rated_offices`` of ``/v1/public/stats``) as CSV,
    one column per score."""
    stats = await published_figures(services, month, townships=False)
    rows = [
        {"month": stats.month, **office.model_dump(), **{
            f"rating_{n}": office.ratings[str(n)] for n in range(1, 6)}}
        for office in stats.rated_offices
    ]  # fmt: skip
    return _csv(RATED_COLUMNS, rows, f"daiban-ratings-{stats.month}.csv")


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for values in rows:
        writer.writerow(["" if values[c] is None else values[c] for c in columns])
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
