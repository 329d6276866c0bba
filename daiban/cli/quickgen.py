"""Write ``daiban/cli/quick.json`` from the typer commands: ``python -m daiban.cli.quickgen``.

The quick front end (``quick``) parses the client commands without typer; what it knows of them
(parameters, help records, usage) is read here from the typer definitions, which stay the one
source. Run this after changing a client command; tests/cli/test_quick.py fails until you do.
Only the kinds of parameter the quick parser understands are accepted: a new kind fails here,
loudly, rather than being parsed wrongly there.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import typer
import typer._click as click
import typer.core
import typer.main

from daiban.cli import commands
from daiban.cli.quick import SPEC_FILE

# The typer commands whose bodies live in ``commands``: the quick front end runs exactly these.
QUICK_COMMANDS = ("submit", "show", "act", "rate", "list", "queue", "stats", "events", "verify")
TYPES = {str: "str", int: "int", bool: "bool", list[str]: "str"}


def spec() -> dict[str, Any]:
    """What ``quick.json`` holds, from the typer app."""
    from daiban.cli.main import app

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    root = click.Context(group, info_name="daiban")
    found = {name: group.commands[name] for name in QUICK_COMMANDS}
    return {
        "commands": {
            name: _command(command, click.Context(command, info_name=name, parent=root))
            for name, command in found.items()
        }
    }


def _command(command: click.Command, ctx: click.Context) -> dict[str, Any]:
    assert command.callback is not None
    function = command.callback.__name__
    if not callable(getattr(commands, function, None)):
        raise ValueError(f"{command.name}: no commands.{function}")
    arguments: list[list[str]] = []
    options: list[list[str]] = []
    params: list[dict[str, Any]] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None:
            (arguments if param.param_type_name == "argument" else options).append(list(record))
        if param.expose_value:
            params.append(_param(command.name or "", param))
    return {
        "function": function,
        "help": inspect.cleandoc(command.help or "").partition("\f")[0],
        "usage": " ".join(command.collect_usage_pieces(ctx)),
        "arguments": arguments,
        "options": options,
        "params": params,
    }


def _param(command: str, param: Any) -> dict[str, Any]:
    annotation = param.type_descriptor.annotation
    kind = TYPES.get(annotation)
    unsupported = (
        kind is None
        or param.nargs != 1
        or getattr(param, "count", False)
        or getattr(param, "prompt", None)
        or (param.multiple and annotation != list[str])
        or (param.is_flag if param.param_type_name == "option" else False) != (kind == "bool")
    )
    if unsupported:
        raise ValueError(f"{command} {param.name}: a parameter the quick parser cannot read")
    return {
        "name": param.name,
        "kind": param.param_type_name,
        "opts": list(param.opts) if param.param_type_name == "option" else [],
        "secondary": list(param.secondary_opts),
        "flag": kind == "bool",
        "multiple": bool(param.multiple),
        "type": kind,
        "min": param.min,
        "max": param.max,
        "required": bool(param.required),
        "default": param.default,
        "envvar": param.envvar,
    }


def render() -> str:
    return json.dumps(spec(), ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    SPEC_FILE.write_text(render(), encoding="utf-8")
    typer.echo(f"wrote {SPEC_FILE}")
