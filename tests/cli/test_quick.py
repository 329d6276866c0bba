"""The quick front end of the client commands: it runs them without importing typer, and reads,
prints and fails exactly as the typer commands do."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer._click as click
import typer.core
import typer.main
from typer.testing import CliRunner

from daiban.cli import commands, quick, quickgen
from daiban.cli.main import app, main
from tests.cli.conftest import CITY, RESIDENT, TOWNSHIP, VILLAGE, token

AGENT = token("agent", VILLAGE)
SUPERVISOR = token("supervisor", CITY)
STAFF = token("township_staff", TOWNSHIP)
ROOT = Path(__file__).resolve().parents[2]
# What an ordinary client command must never pay for (each costs tens of milliseconds or more).
HEAVY = (
    "typer",
    "click",
    "rich",
    "pydantic",
    "fastapi",
    "sqlalchemy",
    "sqlmodel",
    "temporalio",
    "httpx",
    "jwt",
    "uvicorn",
    "starlette",
)


def test_the_spec_is_current() -> None:
    """quick.json is what quickgen reads from the typer commands today."""
    assert quickgen.render() == quick.SPEC_FILE.read_text(encoding="utf-8"), (
        "run `python -m daiban.cli.quickgen` after changing a client command"
    )


def typer_help(name: str, width: int) -> str:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    root = click.Context(group, info_name="daiban", terminal_width=width)
    command = group.commands[name]
    return command.get_help(click.Context(command, info_name=name, parent=root))


@pytest.mark.parametrize("name", quickgen.QUICK_COMMANDS)
@pytest.mark.parametrize("width", [50, 64, 78, 100])
def test_help_is_typers_to_the_character(name: str, width: int) -> None:
    spec = quick.commands_spec()[name]
    assert quick.help_text(spec, f"daiban {name}", width) == typer_help(name, width)


@pytest.mark.parametrize("name", quickgen.QUICK_COMMANDS)
@pytest.mark.parametrize("columns", ["40", "80", "132"])
def test_help_through_main_is_what_typer_prints(
    name: str, columns: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole output of ``daiban NAME --help`` in a terminal of that many columns, the
    program's name included, against typer's run in the same process."""
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(sys, "argv", ["daiban", name, "--help"])
    with pytest.raises(SystemExit) as typer_done:
        app()
    expected = capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == typer_done.value.code == 0
    assert capsys.readouterr().out == expected


# --- parsing: the values typer would pass --------------------------------------------------------

ID = "0123456789abcdef0123456789abcdef"
ARGVS = [
    ["show", ID],
    ["show", "--json", ID, "--token", "t"],
    ["show", "--", "-starts-with-a-dash"],
    [
        "act",
        ID,
        "accept_with_gap",
        "--missing",
        "居民身份证",
        "--missing=户口簿",
        "--due",
        "2030-01-02",
        "--commitment=承诺书",
        "--commitment-by",
        "agent",
        "--authorisation",
        "授权委托书",
    ],
    ["act", ID, "appeal_review", "--upheld"],
    ["act", ID, "appeal_review", "--rejected", "--upheld", "--rejected"],
    ["act", ID, "extend", "--days", "3", "--note", "--help"],  # --help is the note here
    ["rate", ID, "5", "--comment", "很方便"],
    ["rate", ID, "+1"],
    ["list", "--limit", "200", "--overdue", "red", "--cursor", "abc", "--limit=7"],
    ["list"],
    ["queue", "--limit", "1"],
    ["stats", "--from", "2030-01-01", "--to", "2030-12-31", "--township", "370285004"],
    ["events", "--request", ID, "--level", "red", "--since", "2030-01-01", "--office", "x"],
    ["verify", "--request", ID, "--api", "http://127.0.0.1:1/"],
    ["submit", "--item", "dibao", "--name", "王", "--id-number", "1", "--phone", "2"],
    [
        "submit",
        "--item=dibao",
        "--name",
        "王",
        "--id-number",
        "1",
        "--phone",
        "2",
        "--material",
        "a",
        "--material",
        "b",
        "--channel",
        "web",
        "--idempotency-key",
        "k",
        "--note",
        "n",
    ],
]


def typer_values(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The values the typer command hands to its body in ``commands``."""
    name = quick.commands_spec()[argv[0]]["function"]
    seen: list[dict[str, Any]] = []
    signature = inspect.signature(getattr(commands, name))

    def record(*args: Any, **kwargs: Any) -> None:
        seen.append(dict(signature.bind(*args, **kwargs).arguments))

    monkeypatch.setattr(commands, name, record)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    monkeypatch.undo()
    return seen[0]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("environment", [{}, {"DAIBAN_TOKEN": "from-env", "DAIBAN_API_URL": "u"}])
def test_parses_as_typer_does(
    argv: list[str], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    expected = typer_values(argv, monkeypatch)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert quick.parse(quick.commands_spec()[argv[0]], argv[1:]) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--limit", "0"],  # out of range
        ["list", "--limit", "ten"],
        ["list", "--bogus"],
        ["list", "-l", "3"],
        ["list", "extra"],
        ["show"],  # missing argument
        ["show", ID, ID],
        ["rate", ID, "6"],
        ["rate", ID, "-1"],
        ["act", ID],
        ["act", ID, "extend", "--note"],  # no value
        ["list", "--json=yes"],
        ["submit", "--item", "dibao"],  # required options missing
        ["token", "--role", "agent"],  # not a quick command
        ["calendar", "list"],
        [],
    ],
    ids=lambda a: " ".join(a) or "(nothing)",
)
def test_what_it_is_unsure_of_goes_to_typer(argv: list[str]) -> None:
    """typer then answers with its own message and exit code, as before."""
    assert quick.run(argv) is None


def test_help_wins_over_a_missing_argument_as_in_typer() -> None:
    spec = quick.commands_spec()["show"]
    assert quick.parse(spec, ["--help"]) == "help"
    assert CliRunner().invoke(app, ["show", "--help"]).exit_code == 0


# --- against a real API: the same output and exit codes through both front ends -----------------


def through_main(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["daiban", *argv])
    with pytest.raises(SystemExit) as done:
        main()
    captured = capsys.readouterr()
    assert isinstance(done.value.code, int)
    return done.value.code, captured.out, captured.err


def test_same_output_and_exit_codes_as_typer(
    api_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    resident = ["--name", RESIDENT["name"], "--id-number", RESIDENT["id_number"]]
    key = ["--idempotency-key", uuid.uuid4().hex]
    submit = ["submit", "--item", "linshi-jiuzhu", *resident, "--phone", RESIDENT["phone"], *key]
    code, out, _ = through_main(
        [*submit, "--api", api_url, "--token", AGENT, "--json"], monkeypatch, capsys
    )
    assert code == 0
    request_id = json.loads(out)["id"]
    # A change is made once, through the quick path; then what reads or is refused, through both.
    code, out, _ = through_main(
        ["act", request_id, "handoff", "--token", AGENT, "--api", api_url], monkeypatch, capsys
    )
    assert code == 0
    assert "乡镇受理中" in out
    runner = CliRunner()
    cases = [
        ([*submit, "--token", AGENT], 0),  # the same key: the same request, printed in words
        (["show", request_id, "--token", AGENT], 0),
        (["show", request_id, "--token", SUPERVISOR, "--json"], 0),
        (["list", "--limit", "3", "--token", SUPERVISOR], 0),
        (["events", "--request", request_id, "--token", SUPERVISOR], 0),
        (["verify", "--request", request_id, "--token", SUPERVISOR], 0),
        (["stats", "--token", SUPERVISOR, "--json"], 0),
        (["act", request_id, "forward", "--token", STAFF], 6),  # 409, with the allowed actions
        (["act", request_id, "forward", "--token", AGENT], 4),  # 403: an agent never forwards
        (["act", request_id, "refuse", "--token", STAFF], 2),  # a note is required: not sent
        (["show", "f" * 32, "--token", SUPERVISOR], 5),
        (["show", request_id, "--token", "not-a-token"], 4),
        (["show", request_id], 2),  # no token
        (["stats", "--from", "2030-13-01", "--token", SUPERVISOR], 2),
    ]
    # --due is checked, then sent as the date (it once failed with a TypeError, whatever the
    # front end).
    due = (date.today() + timedelta(days=5)).isoformat()
    gap = [
        "act", request_id, "accept_with_gap", "--missing", "遭遇困难情况证明", "--due", due,
        "--commitment", "承诺书", "--commitment-by", "agent", "--authorisation", "授权委托书",
    ]  # fmt: skip
    code, out, err = through_main(
        [*gap, "--token", STAFF, "--api", api_url, "--json"], monkeypatch, capsys
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["gap_due"] == due
    assert json.loads(out)["gap"]["authorisation"] == "授权委托书"
    for argv, exit_code in cases:
        argv = [*argv, "--api", api_url]
        expected = runner.invoke(app, argv)
        assert expected.exit_code == exit_code, (argv, expected.output)
        assert through_main(argv, monkeypatch, capsys) == (
            exit_code,
            expected.stdout,
            expected.stderr,
        ), argv


# --- the import budget, checked without a stopwatch ----------------------------------------------

PROBE = """
import json, sys
_, argv, heavy, report = sys.argv
sys.argv = ["daiban", *json.loads(argv)]
from daiban.cli.main import main
try:
    main()
except SystemExit as done:
    code = done.code
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(heavy)))
with open(report, "w") as out:
    json.dump({"code": code, "heavy": loaded}, out)
"""


def imports_of(argv: list[str], tmp_path: Path, **environment: str) -> dict[str, Any]:
    """Run ``daiban ARGV`` in a fresh interpreter: its exit code and the heavy packages it
    imported."""
    report = tmp_path / f"{uuid.uuid4().hex}.json"
    args = [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY), str(report)]
    env = {**os.environ, "DAIBAN_CLI_NO_HARD_EXIT": "1", **environment}
    ran = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert report.exists(), ran.stderr.decode()
    loaded: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--help"],
        ["act", "--help"],
        ["show", ID, "--token", "t"],
        ["list", "--overdue", "red", "--token", "t"],
        ["events", "--since", "2030-01-01", "--token", "t"],
        [
            "act",
            ID,
            "accept_with_gap",
            "--missing",
            "x",
            "--due",
            "2030-01-02",
            "--commitment",
            "承诺书",
            "--token",
            "t",
        ],  # fmt: skip
        [
            "submit",
            "--item",
            "dibao",
            "--name",
            "王秀英",
            "--id-number",
            RESIDENT["id_number"],
            "--phone",
            RESIDENT["phone"],
            "--material",
            "x",
            "--token",
            "t",
        ],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_client_command_imports_nothing_heavy(
    argv: list[str], api_url: str, tmp_path: Path
) -> None:
    """Guards the speed of every ordinary command: a heavy import put back on the path fails
    here, whatever the machine's speed."""
    ran = imports_of(argv, tmp_path, DAIBAN_API_URL=api_url)
    assert ran["heavy"] == []
    assert ran["code"] in (0, 4)  # help, or the API's 401 for the token "t": it was sent


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The control: a command typer parses does import typer, and the probe says so."""
    ran = imports_of(["list", "--limit", "0"], tmp_path)
    assert "typer" in ran["heavy"]
    assert ran["code"] == 2


class ClosedPipe:
    """A reader that went away, as ``daiban show ID | head`` leaves it."""

    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_quietly_with_1_as_with_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    monkeypatch.setattr(sys, "stderr", ClosedPipe())
    assert quick.run(["list", "--help"]) == 1
    print("nothing to see", file=sys.stderr)  # noqa: T201 - stderr is quiet now, no error
    sys.stdout.close()


def test_run_as_a_module_it_names_itself_as_click_does() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "daiban.cli", "show", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Usage: python -m daiban.cli show [OPTIONS] {ID}"
