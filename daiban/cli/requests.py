"""The typer front end of the API's client commands: ``token``, ``submit``, ``show``, ``act``,
``rate``, ``list``, ``queue``, ``stats``, and the supervision ledger's ``events`` and ``verify``;
their bodies are in ``commands``."""

from __future__ import annotations

from typing import Annotated

import typer

from daiban.cli import commands
from daiban.cli.common import (
    EXIT_BAD_INPUT,
    ApiOption,
    CursorOption,
    JsonOption,
    LimitOption,
    RequestIdArgument,
    TokenOption,
    UrlOption,
    app,
    fail,
    load_settings,
)

# The client commands' bodies are in `commands` (no typer), shared with the quick parser of
# `quick`, which runs them without importing this module; keep both front ends' parameters
# the same (tests/cli/test_quick.py compares them).

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
    commands.submit(
        item,
        name,
        id_number,
        phone,
        material,
        note,
        channel,
        idempotency_key,
        base_url,
        bearer,
        as_json,
    )


@app.command()
def show(
    request_id: RequestIdArgument,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The full live state of one request."""
    commands.show(request_id, base_url, bearer, as_json)


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
    commitment: Annotated[
        str | None,
        typer.Option(help="Gap: the resident's written commitment (承诺书).", show_default=False),
    ] = None,
    commitment_by: Annotated[
        str | None,
        typer.Option(help="Gap: who signed it, resident or agent.", show_default=False),
    ] = None,
    authorisation: Annotated[
        str | None,
        typer.Option(help="Gap: the authorisation an agent signer holds.", show_default=False),
    ] = None,
    reached: Annotated[
        bool | None,
        typer.Option("--reached/--not-reached", help="Callback: the resident.", show_default=False),
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            help="Rectify: fixed, explained or scheduled (with --due).", show_default=False
        ),
    ] = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take one action on a request; required fields are checked before anything is sent."""
    commands.act(
        request_id,
        action,
        note,
        missing,
        due,
        reason,
        days,
        upheld,
        base_url,
        bearer,
        as_json,
        expected_days=expected_days,
        order=order,
        accepted=accepted,
        commitment=commitment,
        commitment_by=commitment_by,
        authorisation=authorisation,
        reached=reached,
        outcome=outcome,
    )


@app.command()
def rate(
    request_id: RequestIdArgument,
    score: Annotated[
        int, typer.Argument(min=1, max=5, help="5 very satisfied … 1 very dissatisfied.")
    ],
    comment: Annotated[str | None, typer.Option(show_default=False)] = None,
    code: Annotated[
        str | None,
        typer.Option(
            help="The code `daiban rating-code` texted to the resident: their own rating.",
            show_default=False,
        ),
    ] = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rate a request with the resident (1 or 2 opens a rectification); without --code it is
    kept as the agent's unconfirmed rating, outside the satisfaction rate."""
    commands.rate(request_id, score, comment, code, base_url, bearer, as_json)


@app.command("rating-code")
def rating_code(
    request_id: RequestIdArgument,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Text a one-time code to the resident's phone, to confirm their rating (`rate --code`)."""
    commands.rating_code(request_id, base_url, bearer, as_json)


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
    commands.list_requests(
        stage, township, office, item, overdue, limit, cursor, base_url, bearer, as_json
    )


@app.command()
def queue(
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    base_url: ApiOption = None,
    bearer: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests waiting on the staff token's office, earliest deadline first."""
    commands.queue(limit, cursor, base_url, bearer, as_json)


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
    commands.stats(township, date_from, date_to, base_url, bearer, as_json)


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
    commands.events(request, level, office, since, limit, cursor, base_url, bearer, as_json)


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
    commands.verify(request, base_url, bearer, as_json)
