"""The API's client commands as plain functions: ``submit``, ``show``, ``act``, ``rate``,
``list_requests``, ``queue``, ``stats``, ``events`` and ``verify``.

Both front ends call these: the typer commands in ``requests`` (``daiban --help``, CliRunner) and
the quick parser in ``quick`` (an ordinary run). Each function takes the command's parameters by
their typer names, already parsed; nothing here imports typer, and what a command needs beyond
the standard library is imported when it runs.
"""

from __future__ import annotations

from typing import Any

from daiban.cli import client as api
from daiban.cli import render
from daiban.cli.base import EXIT_BAD_INPUT, EXIT_FAILURE, call_api, day_or_fail, fail


def submit(
    item: str,
    name: str,
    id_number: str,
    phone: str,
    material: list[str] | None,
    note: str | None,
    channel: str,
    idempotency_key: str | None,
    base_url: str | None,
    bearer: str | None,
    as_json: bool,
) -> None:
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


def show(request_id: str, base_url: str | None, bearer: str | None, as_json: bool) -> None:
    answer = call_api(base_url, bearer, api.get_request(request_id))
    render.emit(answer, as_json, render.print_request)


def act(
    request_id: str,
    action: str,
    note: str | None,
    missing: list[str] | None,
    due: str | None,
    reason: str | None,
    days: int | None,
    upheld: bool | None,
    base_url: str | None,
    bearer: str | None,
    as_json: bool,
    *,
    expected_days: int | None = None,
    order: str | None = None,
    accepted: bool | None = None,
    commitment: str | None = None,
    commitment_by: str | None = None,
    authorisation: str | None = None,
    reached: bool | None = None,
    outcome: str | None = None,
) -> None:
    from models.actions import ACTIONS, field_errors
    from models.contracts import ActionCommand, Actor

    if action not in ACTIONS:
        fail(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}", EXIT_BAD_INPUT)
    fields: dict[str, Any] = {
        "note": note,
        "missing_materials": missing,
        # Checked here (one line for a bad date), carried as the ISO text the command holds.
        "due": day_or_fail(due).isoformat() if due else None,
        "reason": reason,
        "days": days,
        "upheld": upheld,
        "expected_days": expected_days,
        "order": order,
        "accepted": accepted,
        "commitment": commitment,
        "commitment_by": commitment_by,
        "authorisation": authorisation,
        "reached": reached,
        "outcome": outcome,
    }
    # The workflow's own field rules, so that a missing --note fails here in one line.
    errors = field_errors(ActionCommand(action, Actor("cli", "cli", "cli"), **fields))
    if errors:
        lines = [f"  {e['field']}: {e['message']}" for e in errors]
        fail(f"invalid {action}", EXIT_BAD_INPUT, *lines)
    answer = call_api(base_url, bearer, api.act(request_id, action, **fields))
    render.emit(answer, as_json, render.print_change)


def rate(
    request_id: str,
    score: int,
    comment: str | None,
    code: str | None,
    base_url: str | None,
    bearer: str | None,
    as_json: bool,
) -> None:
    answer = call_api(base_url, bearer, api.rate(request_id, score, comment, code=code))
    render.emit(answer, as_json, render.print_change)


def rating_code(request_id: str, base_url: str | None, bearer: str | None, as_json: bool) -> None:
    answer = call_api(base_url, bearer, api.rating_code(request_id))
    render.emit(answer, as_json, render.print_code_sent)


def list_requests(
    stage: str | None,
    township: str | None,
    office: str | None,
    item: str | None,
    overdue: str | None,
    limit: int,
    cursor: str | None,
    base_url: str | None,
    bearer: str | None,
    as_json: bool,
) -> None:
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


def queue(
    limit: int, cursor: str | None, base_url: str | None, bearer: str | None, as_json: bool
) -> None:
    page = call_api(base_url, bearer, api.queue(limit, cursor))
    render.emit(page, as_json, render.print_page, "Work queue")


def stats(
    township: str | None,
    date_from: str | None,
    date_to: str | None,
    base_url: str | None,
    bearer: str | None,
    as_json: bool,
) -> None:
    first = day_or_fail(date_from).isoformat() if date_from else None
    last = day_or_fail(date_to).isoformat() if date_to else None
    answer = call_api(base_url, bearer, api.stats(township, first, last))
    render.emit(answer, as_json, render.print_stats)


def events(
    request: str | None,
    level: str | None,
    office: str | None,
    since: str | None,
    limit: int,
    cursor: str | None,
    base_url: str | None,
    bearer: str | None,
    as_json: bool,
) -> None:
    first = day_or_fail(since).isoformat() if since else None
    call = api.events(
        request=request, level=level, office=office, since=first, limit=limit, cursor=cursor
    )
    page = call_api(base_url, bearer, call)
    render.emit(page, as_json, render.print_events)


def verify(request: str | None, base_url: str | None, bearer: str | None, as_json: bool) -> None:
    result = call_api(base_url, bearer, api.verify(request))
    render.emit(result, as_json, render.print_verification)
    if not result.get("ok"):
        raise SystemExit(EXIT_FAILURE)
