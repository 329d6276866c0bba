"""What every console page shares: the templates, the person looking (from the session), the
rendering of a page, and the one place where the API's problems become pages in words.

Pages call the API's own route functions (``daiban.http.routes_*``) with the session's principal,
so a page shows exactly what the API would return to that person and every form goes through the
API's validation: there is no second set of rules here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError

from daiban.console import words
from daiban.console.session import CsrfRejected, Session, Sessions, check_csrf
from daiban.domain.offices import OfficeTree
from daiban.domain.scope import Principal
from daiban.domain.workdays import WorkdayCalendar
from daiban.http.deps import Services, get_services
from daiban.http.problems import ActionNotAllowed, InvalidInput, NotFound, Problem

HERE: Final = Path(__file__).parent
STATIC_DIR: Final = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

# Where each role starts.
HOME: Final = {
    "agent": "/agent",
    "township_staff": "/queue",
    "city_staff": "/queue",
    "supervisor": "/board",
    "admin": "/admin",
}


class LoginRequired(Exception):
    """The page needs a person and the session names none."""


class WrongRole(Exception):
    """The page is not for this person's role (the API would answer 403)."""


@lru_cache(maxsize=8)
def _calendar(tz: str, closing: str) -> WorkdayCalendar:
    # For wording only (还剩N个工作日): the deadlines themselves come from the workflow.
    return WorkdayCalendar(tz=tz, closing=datetime.strptime(closing, "%H:%M:%S").time())


@dataclass
class Console:
    request: Request
    services: Services
    sessions: Sessions
    session: Session
    offices: OfficeTree
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def principal(self) -> Principal | None:
        return self.session.principal

    def person(self, *roles: str) -> Principal:
        """The person looking, who must hold one of ``roles`` (any role when none is given)."""
        p = self.session.principal
        if p is None:
            raise LoginRequired
        if roles and p.role not in roles:
            raise WrongRole
        return p

    async def form(self) -> dict[str, Any]:
        """The posted form, after its CSRF token was checked; lists stay lists."""
        form = await self.request.form()
        check_csrf(self.session, str(form.get("csrf") or "") or None)
        data: dict[str, Any] = {}
        for key in form:
            values = [str(v) for v in form.getlist(key)]
            data[key] = values if len(values) > 1 or key.endswith("[]") else values[0]
        return data

    def check_header_csrf(self) -> None:
        check_csrf(self.session, self.request.headers.get("X-CSRF-Token"))

    def calendar(self) -> WorkdayCalendar:
        s = self.services.settings
        return _calendar(s.timezone, s.closing_time.strftime("%H:%M:%S"))

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        tz = self.services.tz
        cal = self.calendar()
        now = self.now
        base = {
            "request": self.request,
            "me": self.session.principal,
            "csrf": self.session.csrf,
            "w": words,
            "home": HOME.get(self.session.principal.role, "/") if self.session.principal else "/",
            "t": lambda moment: words.short_time(moment, tz),
            "d": lambda moment: words.short_date(moment, tz),
            "left": lambda moment: words.remaining(moment, now, cal, tz),
            "office": self.office_name,
            "item_name": self.item_name,
        }
        response = templates.TemplateResponse(
            self.request, template, {**base, **context}, status_code=status
        )
        self.keep(response)
        return response

    def keep(self, response: Response) -> None:
        """Write the session back (a first visit gets its CSRF token this way)."""
        self.sessions.write(response, self.session)

    def redirect(self, url: str) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        self.keep(response)
        return response

    def office_name(self, code: str | None) -> str:
        return words.office_name(self.offices, code)

    def item_name(self, code: str) -> str:
        item = self.services.catalog.get(code)
        return item.name if item is not None else code


def _sessions(request: Request) -> Sessions:
    sessions: Sessions | None = getattr(request.app.state, "console_sessions", None)
    if sessions is None:
        sessions = Sessions(get_services(request).settings)
        request.app.state.console_sessions = sessions
    return sessions


async def get_console(request: Request) -> Console:
    services = get_services(request)
    sessions = _sessions(request)
    offices = await services.offices()
    return Console(request, services, sessions, sessions.read(request, offices), offices)


ConsoleDep = Annotated[Console, Depends(get_console)]


# --- problems as pages -------------------------------------------------------------------------


def problem_words(problem: Problem, action: str | None = None) -> list[str]:
    """What went wrong, in sentences a clerk can act on."""
    if isinstance(problem, InvalidInput):
        lines = [
            words.field_message(e["field"], e["message"], action) for e in problem.errors or []
        ]
        return lines or ["填写的内容有误"]
    if isinstance(problem, ActionNotAllowed):
        allowed = "、".join(words.ACTIONS.get(a, a) for a in problem.allowed_actions or [])
        stage = words.STAGES.get(str(problem.extra.get("stage") or ""), "")
        now = f"此件{stage}，" if stage else ""
        why = [words.GAP_OPEN] if "gap materials" in problem.detail else []
        return [
            *why,
            f"现在不能这样办理：{now}"
            + (f"现在可以：{allowed}。" if allowed else "已无可办事项。"),
        ]
    if isinstance(problem, NotFound):
        return ["没有这个办件，或不在您的权限范围内。"]
    if problem.status == 403:
        return ["您的岗位不能办理这项业务。"]
    if problem.status == 429:
        codes = [e["message"] for e in problem.errors or [] if e["field"] == "confirmation_code"]
        return [words.code_message(codes[0])] if codes else ["提交太频繁，请稍候再试。"]
    if problem.status == 503:
        return ["系统暂时无法办理（服务连接中断），请稍后再试。"]
    return ["系统未能完成这项操作，请稍后再试。"]


def validation_problem(error: ValidationError) -> InvalidInput:
    """A form's pydantic error as the API's 422 (same fields, same checks)."""
    errors = []
    for e in error.errors():
        loc = [str(part) for part in e.get("loc", ())]
        errors.append({"field": ".".join(loc) or "body", "message": str(e.get("msg", ""))})
    return InvalidInput("; ".join(e["message"] for e in errors), errors)


def error_fields(problem: Problem | None, action: str | None = None) -> dict[str, str]:
    """Field → message in words, to put each message beside its field."""
    if problem is not None and problem.status == 429 and problem.errors:
        return {e["field"]: words.field_message(e["field"], e["message"]) for e in problem.errors}
    if not isinstance(problem, InvalidInput):
        return {}
    return {
        e["field"]: words.field_message(e["field"], e["message"], action)
        for e in problem.errors or []
    }


class ConsoleRoute(APIRoute):
    """Console pages answer in HTML: a person without a session goes to the login page, a page of
    another role or a stale form gets a page saying so, and a problem the API raised is shown in
    words with its status code (404, 409, 422, ...)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return RedirectResponse("/login", status_code=303)
            except (WrongRole, CsrfRejected, Problem) as error:
                return await _error_page(request, error)
            except RequestValidationError:
                return await _error_page(request, InvalidInput("the address is not valid", []))

        return route


async def _error_page(request: Request, error: Exception) -> Response:
    console = await get_console(request)
    if isinstance(error, WrongRole):
        status, lines = 403, ["这个页面不是为您的岗位准备的。"]
    elif isinstance(error, CsrfRejected):
        status, lines = 403, ["页面已过期，请返回后刷新页面再提交。"]
    else:
        assert isinstance(error, Problem)
        status, lines = error.status, problem_words(error)
    return console.render("error.html", status=status, lines=lines)


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (drawn here: nothing is fetched)."""
    import segno  # imported where used: only the agent's QR page needs it

    svg: str = segno.make(text, error="m").svg_inline(scale=6, border=2)
    return Markup(svg)  # segno's own SVG markup: no user text is interpolated
