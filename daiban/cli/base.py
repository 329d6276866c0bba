"""What every command shares without typer: the exit codes, printing, failing with one line, and
calling the API.

The client commands (``show``, ``list`` …) run on this module, ``client``, ``render`` and
``commands`` alone, all on the standard library (and the pure domain): ``daiban/cli/quick.py``
parses them without typer, so a command costs its HTTP call and little else. ``common`` re-exports
these names for the typer side.

A failure raises ``SystemExit`` with its code: typer lets it through to ``main`` (and CliRunner
reads its code), and ``session_scope`` rolls back on it as on any exception.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

from daiban.run.addresses import DEFAULT_API_URL, StackAddresses, running

if TYPE_CHECKING:
    from datetime import date

    from daiban.cli.client import JSON, ApiError, ApiUnreachable, Call

# The exit codes scripts can trust; `daiban --help` lists them (EXIT_CODES_HELP).
EXIT_OK = 0
EXIT_FAILURE = 1  # the server failed (5xx), or the database or the stack did
EXIT_BAD_INPUT = 2  # bad input, found here or by the API (400, 422, other 4xx)
EXIT_UNREACHABLE = 3  # no connection to the API
EXIT_NOT_ALLOWED = 4  # 401 no or bad token, 403 the role may never do this
EXIT_NOT_FOUND = 5  # 404: no such request, or not in the token's scope
EXIT_CONFLICT = 6  # 409: not allowed in the request's stage now
EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 server or database failure; 2 bad input (422, 400); 3 the API cannot "
    "be reached; 4 no or bad token (401) or not allowed for the role (403); 5 not found or not "
    "in scope (404); 6 not allowed in the request's stage now (409)."
)
NO_HARD_EXIT = "DAIBAN_CLI_NO_HARD_EXIT"


def echo(message: str = "", err: bool = False) -> None:
    """One line (or several) on stdout, or stderr with ``err``, flushed at once as click's
    ``echo`` does, so that output and exit interleave the same either way."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{message}\n")
    stream.flush()


def fail(message: str, code: int = EXIT_FAILURE, *more: str) -> NoReturn:
    """Print one line (and any ``more`` lines) on stderr and exit with ``code``."""
    echo(f"error: {message}", err=True)
    for line in more:
        echo(line, err=True)
    raise SystemExit(code)


def running_stack() -> StackAddresses | None:
    return running()


def api_url(given: str | None) -> str:
    """``--api`` (or ``DAIBAN_API_URL``), else the running ``daiban run``'s, else the default."""
    if given:
        return given.rstrip("/")
    stack = running_stack()
    return stack.api_url if stack is not None else DEFAULT_API_URL


def day_or_fail(value: str) -> date:
    from daiban.domain.dates import parse_day

    try:
        return parse_day(value)
    except ValueError as error:
        fail(str(error), EXIT_BAD_INPUT)


def call_api(base_url: str | None, token: str | None, call: Call) -> JSON:
    """One API call; failures end the command with the exit code of their kind."""
    from daiban.cli.client import ApiClient, ApiError, ApiUnreachable

    if not token:
        fail(
            "no token: pass --token or set DAIBAN_TOKEN (make one with `daiban token`)",
            EXIT_BAD_INPUT,
        )
    try:
        with ApiClient(api_url(base_url), token) as http:
            return http.send(call)
    except (ApiUnreachable, ApiError) as error:
        fail_api(error, given=base_url)


def exit_code_of(status: int) -> int:
    """The exit code of an API error status (see EXIT_CODES_HELP)."""
    if status in (401, 403):
        return EXIT_NOT_ALLOWED
    if status == 404:
        return EXIT_NOT_FOUND
    if status == 409:
        return EXIT_CONFLICT
    return EXIT_BAD_INPUT if 400 <= status < 500 else EXIT_FAILURE


def fail_api(error: ApiUnreachable | ApiError, given: str | None = "") -> NoReturn:
    """Exit with the code of the error's kind; an unreachable API gets a hint on where to look."""
    from daiban.cli.client import ApiUnreachable

    if isinstance(error, ApiUnreachable):
        hint: tuple[str, ...] = ()
        if not given:
            hint = (
                "is the stack running? `daiban run` (or `make run`) records its address for "
                "these commands; elsewhere pass --api URL or set DAIBAN_API_URL",
            )
        fail(str(error), EXIT_UNREACHABLE, *hint)
    first, *more = error.lines()
    fail(first, exit_code_of(error.status), *more)
