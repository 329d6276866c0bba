"""The quick front end: the API's client commands parsed and run on the standard library alone.

Why: typer (with click, and the pydantic it loads to coerce values) costs a command a quarter of
a second before anything is sent, and more on a busy machine; an agent's ``daiban show`` should
cost its HTTP call. Two options were weighed: importing typer lazily cannot help (typer *is* the
parser), and a second hand-written argparse definition of every command would drift from the
typer one and print different help and errors. So the typer definitions stay the one source:
``daiban/cli/quickgen.py`` reads them (parameters, help records, usage) into ``quick.json``, and
a test fails when that file is stale. This module only parses what it is sure of, the way click
would, and renders help with click's layout:

- a well-formed invocation of a command in ``quick.json`` runs its body (``commands``) directly;
- ``--help`` of such a command prints the same text typer would;
- anything else (another command, ``daiban --help``, an unknown option, a missing argument, a
  value out of range) returns ``None``, and ``main`` hands the arguments to typer, which answers
  with its own message and exit code. So errors read exactly as before, at typer's price.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

SPEC_FILE = Path(__file__).with_name("quick.json")
# Click's help layout: at most 80 columns, less 2; never under 50.
MAX_WIDTH = 80
MIN_WIDTH = 50
_INTEGER = re.compile(r"[+-]?\d+")

Spec = dict[str, Any]


@cache
def commands_spec() -> dict[str, Spec]:
    loaded: dict[str, Spec] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))["commands"]
    return loaded


def run(argv: Sequence[str]) -> int | None:
    """Run ``daiban ARGV`` if it is a client command this module is sure of: its exit code, or
    ``None`` for typer to handle (see the module docstring). Failures raise ``SystemExit``."""
    if not argv or argv[0] not in commands_spec():
        return None
    spec = commands_spec()[argv[0]]
    parsed = parse(spec, argv[1:])
    if parsed is None:
        return None
    try:
        if isinstance(parsed, str):  # "help"
            sys.stdout.write(help_text(spec, f"{program_name()} {argv[0]}") + "\n")
            sys.stdout.flush()
            return 0
        from daiban.cli import commands

        getattr(commands, spec["function"])(**parsed)
    except BrokenPipeError:
        # As click does: the reader went away (`daiban show ID | head`); leave with 1, quietly.
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
        return 1
    return 0


# --- parsing, as click does it -----------------------------------------------------------------


def parse(spec: Spec, args: Sequence[str]) -> dict[str, Any] | str | None:
    """The values by parameter name, ``"help"``, or ``None`` when click would complain (or might
    read the arguments differently)."""
    options = {opt: p for p in spec["params"] for opt in (*p["opts"], *p["secondary"])}
    options = {o: p for o, p in options.items() if p["kind"] == "option"}
    given: dict[str, Any] = {}
    positional: list[str] = []
    wants_help = False
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token == "--":
            positional.extend(rest)
            break
        if not (token.startswith("-") and len(token) > 1):
            positional.append(token)
            continue
        name, has_value, value = token.partition("=")
        if name == "--help" and not has_value:
            wants_help = True
            continue
        param = options.get(name)
        if param is None:
            return None  # unknown or short options: typer's error
        if param["flag"]:
            if has_value:
                return None
            given[param["name"]] = name in param["opts"]
            continue
        if not has_value:
            if not rest:
                return None
            value = rest.pop(0)
        if param["multiple"]:
            given.setdefault(param["name"], []).append(value)
        else:
            given[param["name"]] = value
    if wants_help:
        return "help"
    return _values(spec, given, positional)


def _values(spec: Spec, given: dict[str, Any], positional: list[str]) -> dict[str, Any] | None:
    arguments = [p for p in spec["params"] if p["kind"] == "argument"]
    if len(positional) != len(arguments):
        return None
    given.update(zip((p["name"] for p in arguments), positional, strict=True))
    values: dict[str, Any] = {}
    for param in spec["params"]:
        raw = given.get(param["name"])
        if raw is None and param["envvar"]:
            raw = os.environ.get(param["envvar"]) or None
        if raw is None:
            if param["required"]:
                return None
            values[param["name"]] = param["default"]
            continue
        value = _convert(param, raw)
        if value is None:
            return None
        values[param["name"]] = value
    return values


def _convert(param: Spec, raw: Any) -> Any:
    """The value as the command receives it, or ``None`` when typer should judge it."""
    if param["type"] != "int" or isinstance(raw, bool):
        return raw
    if not _INTEGER.fullmatch(raw):
        return None
    number = int(raw)
    low, high = param["min"], param["max"]
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


# --- help, in click's layout -------------------------------------------------------------------


def program_name() -> str:
    """``daiban``, or ``python -m daiban.cli`` when run so (as click names it)."""
    main = sys.modules.get("__main__")
    package = getattr(main, "__package__", None)
    path = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if not package:
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    return f"python -m {package if name == '__main__' else f'{package}.{name}'}"


def help_width() -> int:
    return max(min(shutil.get_terminal_size().columns, MAX_WIDTH) - 2, MIN_WIDTH)


def help_text(spec: Spec, command_path: str, width: int | None = None) -> str:
    """What ``daiban COMMAND --help`` prints (without the final newline)."""
    width = width or help_width()
    out = [_usage(command_path, spec["usage"], width)]
    if spec["help"]:
        out.append("\n" + _wrap_paragraphs(spec["help"], width, "  ") + "\n")
    for title, rows in (("Arguments", spec["arguments"]), ("Options", spec["options"])):
        if rows:
            out.append(f"\n{title}:\n" + _definitions(rows, width, 2))
    return "".join(out).rstrip("\n")


class _Wrapper(textwrap.TextWrapper):
    """Click's wrapper: a word longer than the line is cut at the line's end."""

    def _handle_long_word(
        self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int
    ) -> None:
        space_left = max(width - cur_len, 1)
        last = reversed_chunks[-1]
        cur_line.append(last[:space_left])
        reversed_chunks[-1] = last[space_left:]


def _fill(text: str, width: int, first: str = "", then: str = "") -> str:
    wrapper = _Wrapper(
        width, initial_indent=first, subsequent_indent=then, replace_whitespace=False
    )
    return wrapper.fill(text)


def _wrap_paragraphs(text: str, width: int, indent: str = "") -> str:
    """Click's ``wrap_text(preserve_paragraphs=True)``: paragraphs rewrapped one by one, each
    kept at its own indentation, a paragraph opened by a ``\\b`` line left as it is."""
    paragraphs: list[tuple[int, bool, str]] = []
    lines: list[str] = []
    own_indent: int | None = None

    def flush() -> None:
        if lines:
            raw = lines[0].strip() == "\b"
            body = "\n".join(lines[1:]) if raw else " ".join(lines)
            paragraphs.append((own_indent or 0, raw, body))
            lines.clear()

    for line in text.expandtabs().splitlines():
        if not line:
            flush()
            own_indent = None
            continue
        if own_indent is None:
            stripped = line.lstrip()
            own_indent = len(line) - len(stripped)
            line = stripped
        lines.append(line)
    flush()
    out = []
    for extra, raw, body in paragraphs:
        prefix = indent + " " * extra
        if raw:
            out.append("\n".join(prefix + line for line in body.splitlines()))
        else:
            out.append(_fill(body, width, prefix, prefix))
    return "\n\n".join(out)


def _usage(command_path: str, pieces: str, width: int) -> str:
    prefix = f"Usage: {command_path} "
    if width >= len(prefix) + 20:
        return _fill(pieces, width, prefix, " " * len(prefix)) + "\n"
    indent = " " * (len("Usage: ") + 4)
    return prefix + "\n" + _fill(pieces, width, indent, indent) + "\n"


def _definitions(rows: Sequence[Sequence[str]], width: int, indent: int) -> str:
    """Click's ``write_dl``: the names in a column of at most 30, the help wrapped beside them."""
    first_col = min(max(len(first) for first, _ in rows), 30) + 2
    text_width = max(width - first_col - 2, 10)
    out: list[str] = []
    for first, second in rows:
        out.append(" " * indent + first)
        if not second:
            out.append("\n")
            continue
        if len(first) <= first_col - 2:
            out.append(" " * (first_col - len(first)))
        else:
            out.append("\n" + " " * (first_col + indent))
        lines = _wrap_paragraphs(second, text_width).splitlines() or [""]
        out.append(lines[0] + "\n")
        out.extend(" " * (first_col + indent) + line + "\n" for line in lines[1:])
    return "".join(out)
