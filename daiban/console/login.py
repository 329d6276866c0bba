"""Signing in and out, and where each person starts.

Production signs in through the county's single sign-on (``daiban.console.oidc``).
Development has a login page listing the demo users, served only when ``DAIBAN_ENVIRONMENT`` is
``development`` and the browser is on this machine (loopback): anywhere else it does not exist
(404), so a deployment left in development mode still cannot be entered from the network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from daiban.console.oidc import relying_party
from daiban.console.session import new_session
from daiban.console.web import HOME, Console, ConsoleDep, ConsoleRoute
from daiban.domain.offices import demo_city
from daiban.domain.scope import Principal, principal_from_claims
from daiban.http.problems import NotFound

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@dataclass(frozen=True)
class DemoUser:
    key: str
    role: str
    office: str
    person: str  # who this stands for, as the login page lists it


CITY: Final = demo_city().code
DEMO_USERS: Final = (
    DemoUser("agent", "agent", "370285004001", "代办员"),
    DemoUser("agent-far", "agent", "370285005001", "代办员"),
    DemoUser("township", "township_staff", "370285004", "受理窗口"),
    DemoUser("township-far", "township_staff", "370285005", "受理窗口"),
    DemoUser("city", "city_staff", CITY, "受理窗口"),
    DemoUser("supervisor", "supervisor", CITY, "电子监察"),
    DemoUser("supervisor-township", "supervisor", "370285004", "电子监察"),
    DemoUser("admin", "admin", CITY, "系统管理员"),
)


def dev_login_open(request: Request, environment: str) -> bool:
    if environment != "development" or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _principal(user: DemoUser, console: Console) -> Principal:
    return principal_from_claims(
        {"sub": f"demo-{user.key}", "role": user.role, "office": user.office}, console.offices
    )


@router.get("/")
async def home(console: ConsoleDep) -> Response:
    me = console.person()
    return console.redirect(HOME.get(me.role, "/login"))


@router.get("/login")
async def login_page(console: ConsoleDep) -> Response:
    """Single sign-on when it is configured; the demo users in development on loopback."""
    sso = relying_party(console) is not None
    dev = dev_login_open(console.request, console.services.settings.environment)
    if not sso and not dev:
        raise NotFound("the development login page is only served in development, on loopback")
    return console.render("login.html", users=DEMO_USERS if dev else (), sso=sso)


@router.post("/login")
async def login(console: ConsoleDep) -> Response:
    if not dev_login_open(console.request, console.services.settings.environment):
        raise NotFound("the development login page is only served in development, on loopback")
    form = await console.form()
    user = next((u for u in DEMO_USERS if u.key == form.get("user")), None)
    if user is None:
        return console.render(
            "login.html", status=422, users=DEMO_USERS, sso=False, error="请选择一位用户"
        )
    # A new session, with a new CSRF token: nothing from before the login carries over.
    console.session = new_session(_principal(user, console))
    return console.redirect(HOME[user.role])


@router.post("/logout")
async def logout(console: ConsoleDep) -> Response:
    await console.form()
    response = RedirectResponse("/login", status_code=303)
    console.sessions.clear(response)
    return response
