"""Routes of written notices (文书): a request's notices, one notice as HTML or PDF, and the
public check of a printed copy by its SHA-256.

Notices are read from the database only. A notice is in scope when its request is (the same
rules and the same 404 as every request read); the verification answer names the record, never
the resident, so it needs no login. A PDF is rendered when it is asked for (seconds of CPU for a
CJK font), in a worker thread.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from daiban.domain.notice_render import (
    NoticeFont,
    NoticeFontError,
    check_notice_font,
    notice_document,
    render_html,
)
from daiban.domain.notices import notice_kind
from daiban.domain.scope import Principal
from daiban.http.deps import PrincipalDep, ServicesDep
from daiban.http.problems import NotFound, Unavailable, not_found, responses
from daiban.http.routes_requests import RequestId
from daiban.store import readmodel
from daiban.store.notices import (
    is_intact,
    notice_by_number,
    notice_by_sha256,
    opened_content,
    request_notices,
)
from models.db import NoticeRow
from models.notices import NoticeList, NoticeOut, NoticeVerifyOut
from models.schemas import PRINTABLE

router = APIRouter(prefix="/v1", tags=["notices"])
NoticeNumber = Annotated[
    str, PathParam(max_length=64, pattern=PRINTABLE, description="e.g. 姜山受〔2026〕0007号")
]
NO_STORE = {"Cache-Control": "no-store"}
PDF = "application/pdf"


def _out(row: NoticeRow, services: ServicesDep) -> NoticeOut:
    return NoticeOut(
        number=row.number,
        kind=row.kind,
        title=notice_kind(row.kind).title,
        office=row.office,
        issuer=str(row.content.get("issuer", "")),
        issued_at=row.issued_at.astimezone(services.tz),
        sha256=row.sha256,
    )


def _notices_in_scope(
    session: Session, principal: Principal, request_id: str
) -> list[NoticeRow] | None:
    if readmodel.request_in_scope(session, principal, request_id) is None:
        return None
    return request_notices(session, request_id)


def _notice_in_scope(session: Session, principal: Principal, number: str) -> NoticeRow | None:
    row = notice_by_number(session, number)
    if row is None or readmodel.request_in_scope(session, principal, row.request_id) is None:
        return None
    return row


@lru_cache(maxsize=4)
def _font(path: Path, index: int) -> NoticeFont:
    return check_notice_font(path, index)


def wants_pdf(accept: str | None) -> bool:
    """PDF when the client asks for it over HTML (``Accept: application/pdf``); HTML otherwise,
    browsers' ``text/html,…,*/*;q=0.8`` included."""
    quality = {"application/pdf": 0.0, "text/html": 0.0}
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if media.lower() not in quality:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = q
    return quality[PDF] > 0 and quality[PDF] > quality["text/html"]


@router.get(
    "/requests/{id}/notices",
    response_model=NoticeList,
    responses=responses(401, 403, 404, 422),
)
async def list_notices(id: RequestId, principal: PrincipalDep, services: ServicesDep) -> NoticeList:
    """The request's notices, in the order they were issued."""
    rows = await services.db(_notices_in_scope, principal, id)
    if rows is None:
        raise not_found()
    return NoticeList(items=[_out(row, services) for row in rows])


# Declared before /notices/{number}, which would otherwise take "verify" for a number.
@router.get("/notices/verify", response_model=NoticeVerifyOut, responses=responses(422))
async def verify_notice(
    services: ServicesDep,
    sha256: Annotated[str, Query(pattern=r"^[0-9a-fA-F]{64}$", description="printed at the foot")],
) -> NoticeVerifyOut:
    """Is this printed copy genuine? No login: the answer names the record, nothing personal."""
    row = await services.db(notice_by_sha256, sha256.lower())
    if row is None:
        return NoticeVerifyOut(valid=False)
    out = _out(row, services)
    return NoticeVerifyOut(
        valid=is_intact(row, services.sealer),
        number=out.number,
        kind=out.kind,
        title=out.title,
        issued_at=out.issued_at,
        office=out.office,
        issuer=out.issuer,
    )


@router.get(
    "/notices/{number}",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "HTML by default; PDF with `Accept: application/pdf`",
            "content": {"text/html": {}, PDF: {}},
        },
        **responses(401, 403, 404, 422, 503),
    },
)
async def get_notice(
    number: NoticeNumber,
    principal: PrincipalDep,
    services: ServicesDep,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """One notice, printable: HTML (A4 print styles) or PDF. Never cached: it names a resident."""
    row = await services.db(_notice_in_scope, principal, number)
    if row is None:
        raise NotFound("no such notice")
    doc = notice_document(opened_content(row, services.sealer), row.sha256)
    if not wants_pdf(accept):
        return HTMLResponse(render_html(doc), headers=NO_STORE)
    settings = services.settings
    try:
        font = _font(settings.notice_font, settings.notice_font_index)
    except NoticeFontError as error:
        raise Unavailable(f"notices cannot be printed as PDF now: {error}") from None
    # Imported here, not with the app: fpdf2 takes seconds to import on a busy machine, and only
    # a PDF request should pay for it.
    from daiban.domain.notice_pdf import render_pdf

    pdf = await run_in_threadpool(render_pdf, doc, font)
    disposition = f"inline; filename*=UTF-8''{quote(row.number)}.pdf"
    return Response(pdf, media_type=PDF, headers={**NO_STORE, "Content-Disposition": disposition})
