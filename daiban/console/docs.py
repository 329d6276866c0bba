"""``/docs``: Swagger UI for the API's OpenAPI document, served from this deployment.

FastAPI's own page loads Swagger UI from a CDN, which a county intranet cannot reach: a blank
page. The assets are vendored under ``static/swagger-ui`` (version and licence in its README).
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
ASSETS: Final = "/static/swagger-ui"


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="daiban API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
