"""The administrator's reference pages: the service catalog and the office tree, read through the
API's own routes."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter
from fastapi.responses import Response

from daiban.console.web import ConsoleDep, ConsoleRoute
from daiban.http import routes_supervision
from models.contracts import Role
from models.schemas import OfficesQuery

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/admin")
async def admin(console: ConsoleDep) -> Response:
    me = console.person(Role.ADMIN)
    s = console.services
    catalog = await routes_supervision.catalog(me, s.catalog)
    townships = await routes_supervision.offices(OfficesQuery(tier="township"), me, s)
    villages = await routes_supervision.offices(OfficesQuery(tier="village"), me, s)
    per_township = Counter(v.parent for v in villages.items)
    return console.render(
        "admin.html",
        items=catalog["items"],
        townships=townships.items,
        villages=per_township,
        village_total=len(villages.items),
    )
