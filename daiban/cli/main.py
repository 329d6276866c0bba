"""The ``daiban`` command line.

Layout: ``base`` holds the exit codes and the helpers that fail with one line, without typer;
``common`` holds the typer apps, options and the helpers that fail with one line; the
commands live by group in ``system`` (``run``, ``worker``, ``serve``, ``simulate``), ``requests``
(``token``, ``submit``, ``show`` …, ``events``, ``verify``) and ``admin`` (``db``, ``calendar``,
``offices``). Importing them registers their commands on ``app``; a module imports at its top only
typer and the standard library, and each command what it uses, so ``daiban --help`` starts fast.
Add a command to its group's module. The client commands (``show``, ``list`` …) have their bodies
in ``commands`` and a second, quick front end in ``quick`` that runs them without importing typer
at all (run ``python -m daiban.cli.quickgen`` after changing one). What people see (text in
names, ``--json``) is drawn by ``daiban/cli/render.py``.

Exit codes scripts can trust (``common.EXIT_CODES_HELP``): 0 ok; 1 a server or database failure;
2 bad input, found here or by the API (422, 400); 3 the API cannot be reached; 4 a 401 or 403;
5 a 404; 6 a 409. Errors people can fix print on stderr in a few lines, never a traceback.

Every run of the console script leaves through ``_exit``, which flushes and calls ``os._exit``:
a process that used a Temporal client can abort while Python finalizes (docs/operations.md).
typer's CliRunner calls ``app`` directly and never gets there; ``DAIBAN_CLI_NO_HARD_EXIT=1`` turns
the hard exit into a plain ``SystemExit`` for tests that call ``main``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from daiban.cli.base import EXIT_FAILURE, EXIT_OK, NO_HARD_EXIT

if TYPE_CHECKING:
    import typer


def typer_app() -> typer.Typer:
    """The typer app with every group's commands registered (importing a group registers them;
    `daiban --help` lists them in this order)."""
    # isort: off
    from daiban.cli import system  # noqa: F401
    from daiban.cli import requests  # noqa: F401
    from daiban.cli import admin  # noqa: F401

    # isort: on
    from daiban.cli.common import app

    return app


def __getattr__(name: str) -> Any:
    """``app`` is built on first use: the quick path of ``main`` never imports typer."""
    if name == "app":
        return typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the way out -------------------------------------------------------------------------------


def _exit(code: int) -> NoReturn:
    """Flush and leave without interpreter teardown (see the module docstring)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.environ.get(NO_HARD_EXIT) == "1":
        raise SystemExit(code)
    os._exit(code)


def main() -> None:
    """Entry point of the ``daiban`` console script: every command leaves through ``_exit``."""
    from daiban.cli import quick

    try:
        quick_code = quick.run(sys.argv[1:])
        if quick_code is not None:
            _exit(quick_code)
        typer_app()()  # standalone mode: always ends by raising SystemExit
    except SystemExit as done:
        code = done.code
        _exit(code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_FAILURE))
    except Exception:
        sys.excepthook(*sys.exc_info())  # typer's hook: a readable traceback for a real bug
        _exit(EXIT_FAILURE)
    _exit(EXIT_OK)


if __name__ == "__main__":
    main()
