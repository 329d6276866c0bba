"""The console: the screens of the people who run the service (docs/design.md §8), served by the
API's app.

Server-rendered pages (Jinja2 templates, one stylesheet, one small script, no build step): a page
is one request to the same process that holds the rules, which is fast on a cheap phone, works
without JavaScript where it can, and is changed by editing a template. Every page calls the API's
own route functions with the person's principal, so the console shows what the API would return
to that person and every form meets the API's validation.

- ``web``       the person looking (session), rendering, problems as pages in words;
- ``session``   signed session cookies and CSRF tokens;
- ``words``     Chinese names of stages, actions, rungs, clocks; dates as people read them;
- ``login``     the login page (and the demo users in development), logout, where each starts;
- ``oidc``      single sign-on: OpenID Connect, authorization code with PKCE;
- ``work``      the window staff's queue, lists, the request page and its actions;
- ``agent``     the village agent's phone screens: list, register (offline too), rating QR code;
- ``board``     the supervisor's board, its change polling and the Excel export;
- ``resident``  the rating page behind a rating link (texted, or its QR code);
- ``confirm``   the agent's screen for a rating confirmed with a code texted to the resident;
- ``progress``  the resident's progress lookup by number and ID digits;
- ``publicity`` the monthly figures a county publishes (评价公示), without login;
- ``admin``     the catalog and the offices;
- ``docs``      Swagger UI from vendored assets.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from daiban.console import (
    admin,
    agent,
    board,
    confirm,
    docs,
    login,
    oidc,
    progress,
    publicity,
    resident,
    work,
)
from daiban.console.web import STATIC_DIR

router = APIRouter(include_in_schema=False)
_PAGES = (login, oidc, work, agent, board, resident, confirm, progress, publicity, admin, docs)
for _module in _PAGES:
    router.include_router(_module.router)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
