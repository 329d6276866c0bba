"""The API's client commands: ``token``, ``submit``, ``show``, ``act``, ``rate``, ``list``,
``queue``, ``stats``, and the supervision ledger's ``events`` and ``verify``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from daiban.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    ApiOption,
    CursorOption,
    JsonOption,
    LimitOption,
    RequestIdArgument,
    TokenOption,
    UrlOption,
    app,
    call_api,
    day_or_fail,
    fail,
    load_settings,
)

# What a command needs beyond typer is imported when it runs: `daiban --help` stays fast.

# --- the API: token, submit, show, act, rate, list, queue, stats --------------------------------


@app.command()
def token(
    role: Annotated[
        str,
        typer.Option(
            help="agent, township_staff, city_staff, supervisor or admin.", show_default=False
        ),
    ],
    office: Annotated[
        str, typer.Option(help="The office code the role works at.", show_default=False)
    ],
    sub: Annotated[
        str | None, typer.Option(help="Staff id [default: ROLE-OFFICE].", show_default=False)
    ] = None,
    ttl: Annotated[
        int | None,
        typer.Option(min=1, help="Seconds [default: DAIBAN_JWT_TTL_SECONDS].", show_default=False),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Mint a development token (HS256 with DAIBAN_JWT_SECRET) and print it.

    The office is checked against the offices loaded in the database, or the demo city's when
    there are none (or the database cannot be read).
    """
    from daiban.http.auth import mint_token
    from daiban.store.offices import read_tree

    settings = load_settings()
    offices = read_tree(url or settings.database_url)
    try:
        value = mint_token(settings, sub or f"{role}-{office}", role, office, ttl, offices=offices)
    except ValueError as error:
        fail(str(error), EXIT_BAD_INPUT)
    typer.echo(value)


@app.command()
def submit(
    item: Annotated[str, typer.Option(help="Service item code, e.g. dibao.", show_default=False)],
    name: Annotated[str, typer.Option(help="The resident's name.", show_default=False)],
    id_number: Annotated[str, typer.Option(help="18-character ID number.", show_default=False)],
    phone: Annotated[str, typer.Option(help="Mobile number.", show_default=False)],
    material: Annotated[
        list[str] | None,
        typer.Option(
            help="A material handed in (repeat) [default: all the item lists].", show_default=False
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(show_default=False)] = None,
    channel: Annotated[str, typer.Option(help="proxy_room, hotline or web.")] = "proxy_room",
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Resubmitting with it never makes a second request.", show_default=False),
    ] = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a resident's request at the agent's village (agent token)."""
    from daiban.cli import client as api
    from daiban.cli import render
    from daiban.domain.privacy import check_id_number, check_name, check_phone

    problems = []
    for field, check, value in (
        ("name", check_name, name),
        ("id_number", check_id_number, id_number),
        ("phone", check_phone, phone),
    ):
        try:
            check(value)
        except ValueError as error:
            problems.append(f"  resident.{field}: {error}")
    if problems:
        fail("invalid resident", EXIT_BAD_INPUT, *problems)
    materials = material
    if materials is None:
        catalog = call_api(base_url, bearer, api.catalog())
        known = {i["code"]: i for i in catalog["items"]}
        materials = list(known[item]["materials"]) if item in known else []
    resident = {"name": name, "id_number": id_number, "phone": phone}
    call = api.submit(item, resident, materials, note, channel, idempotency_key)
    answer = call_api(base_url, bearer, call)
    render.emit(answer, as_json, render.print_change)


@app.command()
def show(
    request_id: RequestIdArgument,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The full live state of one request."""
    from daiban.cli import client as api
    from daiban.cli import render

    answer = call_api(base_url, bearer, api.get_request(request_id))
    render.emit(answer, as_json, render.print_request)


@app.command()
def act(
    request_id: RequestIdArgument,
    action: Annotated[
        str, typer.Argument(help="handoff, accept, forward, approve … (docs/api.md lists them).")
    ],
    note: Annotated[str | None, typer.Option(help="Reason or remark.", show_default=False)] = None,
    missing: Annotated[
        list[str] | None, typer.Option(help="A missing material (repeat).", show_default=False)
    ] = None,
    due: Annotated[
        str | None, typer.Option(help="Gap due date, YYYY-MM-DD.", show_default=False)
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Pause reason.", show_default=False)] = None,
    days: Annotated[
        int | None, typer.Option(min=1, help="Extension days.", show_default=False)
    ] = None,
    upheld: Annotated[
        bool | None, typer.Option("--upheld/--rejected", help="Appeal review.", show_default=False)
    ] = None,
    expected_days: Annotated[
        int | None,
        typer.Option(min=1, help="Pause: the procedure's expected days.", show_default=False),
    ] = None,
    order: Annotated[
        str | None, typer.Option(help="A supervision order's number.", show_default=False)
    ] = None,
    accepted: Annotated[
        bool | None,
        typer.Option("--accepted/--returned", help="Order review.", show_default=False),
    ] = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take one action on a request; required fields are checked before anything is sent."""
    from daiban.cli import client as api
    from daiban.cli import render
    from models.actions import ACTIONS, field_errors
    from models.contracts import ActionCommand, Actor

    if action not in ACTIONS:
        fail(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}", EXIT_BAD_INPUT)
    fields: dict[str, Any] = {
        "note": note,
        "missing_materials": missing,
        "due": day_or_fail(due) if due else None,
        "reason": reason,
        "days": days,
        "upheld": upheld,
        "expected_days": expected_days,
        "order": order,
        "accepted": accepted,
    }
    # The workflow's own field rules, so that a missing --note fails here in one line.
    errors = field_errors(ActionCommand(action, Actor("cli", "cli", "cli"), **fields))
    if errors:
        lines = [f"  {e['field']}: {e['message']}" for e in errors]
        fail(f"invalid {action}", EXIT_BAD_INPUT, *lines)
    if fields["due"] is not None:
        fields["due"] = fields["due"].isoformat()
    answer = call_api(base_url, bearer, api.act(request_id, action, **fields))
    render.emit(answer, as_json, render.print_change)


@app.command()
def rate(
    request_id: RequestIdArgument,
    score: Annotated[
        int, typer.Argument(min=1, max=5, help="5 very satisfied … 1 very dissatisfied.")
    ],
    comment: Annotated[str | None, typer.Option(show_default=False)] = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rate a request on the resident's behalf (1 or 2 opens a rectification)."""
    from daiban.cli import client as api
    from daiban.cli import render

    answer = call_api(base_url, bearer, api.rate(request_id, score, comment))
    render.emit(answer, as_json, render.print_change)


@app.command("list")
def list_requests(
    stage: Annotated[str | None, typer.Option(show_default=False)] = None,
    township: Annotated[str | None, typer.Option(show_default=False)] = None,
    office: Annotated[
        str | None, typer.Option(help="Responsible office.", show_default=False)
    ] = None,
    item: Annotated[str | None, typer.Option(show_default=False)] = None,
    overdue: Annotated[
        str | None,
        typer.Option(help="reminder, yellow, red, statutory or any.", show_default=False),
    ] = None,
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests in the token's scope, newest first."""
    from daiban.cli import client as api
    from daiban.cli import render

    call = api.list_requests(
        stage=stage,
        office=office,
        township=township,
        item=item,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    )
    page = call_api(base_url, bearer, call)
    render.emit(page, as_json, render.print_page, "Requests")


@app.command()
def queue(
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests waiting on the staff token's office, earliest deadline first."""
    from daiban.cli import client as api
    from daiban.cli import render

    page = call_api(base_url, bearer, api.queue(limit, cursor))
    render.emit(page, as_json, render.print_page, "Work queue")


@app.command()
def stats(
    township: Annotated[str | None, typer.Option(show_default=False)] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First creation date.", show_default=False)
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last creation date.", show_default=False)
    ] = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per-township statistics (supervisor token)."""
    from daiban.cli import client as api
    from daiban.cli import render

    first = day_or_fail(date_from).isoformat() if date_from else None
    last = day_or_fail(date_to).isoformat() if date_to else None
    answer = call_api(base_url, bearer, api.stats(township, first, last))
    render.emit(answer, as_json, render.print_stats)


# --- the supervision ledger: events, verify ---------------------------------------------------


@app.command()
def events(
    request: Annotated[
        str | None, typer.Option(help="Only this request's events.", show_default=False)
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            help="Only this rung: reminder, yellow, red or statutory.", show_default=False
        ),
    ] = None,
    office: Annotated[
        str | None, typer.Option(help="Only events at this office.", show_default=False)
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this date on, YYYY-MM-DD.", show_default=False)
    ] = None,
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The supervision ledger (电子监察), newest first (supervisor token)."""
    from daiban.cli import client as api
    from daiban.cli import render

    first = day_or_fail(since).isoformat() if since else None
    call = api.events(
        request=request, level=level, office=office, since=first, limit=limit, cursor=cursor
    )
    page = call_api(base_url, bearer, call)
    render.emit(page, as_json, render.print_events)


@app.command()
def verify(
    request: Annotated[
        str | None,
        typer.Option(
            help="Only this request [default: every request in scope].", show_default=False
        ),
    ] = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the ledger's hash chains; exit 1 when a chain is broken (supervisor token)."""
    from daiban.cli import client as api
    from daiban.cli import render

    result = call_api(base_url, bearer, api.verify(request))
    render.emit(result, as_json, render.print_verification)
    if not result.get("ok"):
        raise typer.Exit(EXIT_FAILURE)
