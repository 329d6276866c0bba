"""Commands checked without an API: tokens, local validation (exit 2), an unreachable API (exit 3),
and the one way out of the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner, Result

from daiban.cli.main import NO_HARD_EXIT, app, main
from daiban.core.settings import Settings
from daiban.run.procs import free_port
from tests.cli.conftest import SECRET, TOWNSHIP, VILLAGE


def dead_url() -> str:
    """A local port nobody listens on (bound, then released)."""
    return f"http://127.0.0.1:{free_port()}"


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def assert_error(result: Result, code: int, text: str) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("error: ") or "Usage" in result.stderr, result.stderr
    assert text in result.stderr, result.stderr


def test_token_carries_the_claims(runner: CliRunner) -> None:
    result = run(
        runner,
        "token",
        "--role",
        "township_staff",
        "--office",
        TOWNSHIP,
        "--sub",
        "ts-7",
        "--ttl",
        "600",
    )
    assert result.exit_code == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"], claims["office"]) == ("ts-7", "township_staff", TOWNSHIP)
    assert claims["exp"] - claims["iat"] == 600


def test_token_defaults(runner: CliRunner) -> None:
    result = run(runner, "token", "--role", "agent", "--office", VILLAGE)
    assert result.exit_code == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == f"agent-{VILLAGE}"
    assert claims["exp"] - claims["iat"] == Settings().jwt_ttl_seconds


@pytest.mark.parametrize(
    ("role", "office", "why"),
    [
        ("agent", TOWNSHIP, "cannot work at a township office"),
        ("mayor", TOWNSHIP, "unknown role"),
        ("agent", "999", "unknown office"),
        ("system", TOWNSHIP, "unknown role"),
    ],
)
def test_token_refuses_what_the_api_would(
    runner: CliRunner, role: str, office: str, why: str
) -> None:
    assert_error(run(runner, "token", "--role", role, "--office", office), 2, why)


SUBMIT = ("submit", "--item", "dibao", "--name", "王秀英", "--phone", "13805321234")


@pytest.mark.parametrize(
    "args",
    [
        ("show", "abc"),
        ("list",),
        ("queue",),
        ("stats",),
        ("act", "abc", "handoff"),
        ("rate", "abc", "5"),
        (*SUBMIT, "--id-number", "370285194802150024", "--material", "户口簿"),
    ],
)
def test_unreachable_api_exits_3(runner: CliRunner, args: tuple[str, ...]) -> None:
    result = run(runner, *args, "--api", dead_url(), "--token", "t")
    assert_error(result, 3, "cannot connect to http://127.0.0.1:")


def test_missing_token_exits_2(runner: CliRunner) -> None:
    assert_error(run(runner, "list", "--api", dead_url()), 2, "no token")


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ((*SUBMIT, "--id-number", "370285194802150023"), "id_number fails its check digit"),
        ((*SUBMIT[:-1], "1380532123", "--id-number", "370285194802150024"), "phone must be"),
        (("act", "abc", "explode"), "unknown action 'explode'"),
        (("act", "abc", "deny"), "note is required for deny"),
        (("act", "abc", "accept_with_gap", "--missing", "户口簿"), "due is required"),
        (("act", "abc", "pause", "--reason", "nap"), "reason must be one of"),
        (("act", "abc", "pause", "--reason", "hearing"), "expected_days is required"),
        (("act", "abc", "reply_order", "--note", "已办"), "order is required"),
        (("act", "abc", "review_order", "--order", "莱西督〔2030〕0001号"), "accepted is required"),
        (("act", "abc", "accept_with_gap", "--missing", "x", "--due", "2026-13-01"), "not a date"),
        (("rate", "abc", "6"), "less than or equal to 5"),
        (("stats", "--from", "yesterday"), "not a date"),
    ],
)
def test_bad_input_fails_before_anything_is_sent(
    runner: CliRunner, args: tuple[str, ...], why: str
) -> None:
    # The API is unreachable: exit 2 rather than 3 proves nothing was sent.
    result = run(runner, *args, "--api", dead_url(), "--token", "t")
    assert_error(result, 2, why)


def test_main_ends_through_the_exit_helper(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["daiban", "queue", "--api", dead_url(), "--token", "t"])
    with pytest.raises(SystemExit) as leaving:
        main()
    assert leaving.value.code == 3
    assert "cannot connect" in capsys.readouterr().err


def test_a_real_process_keeps_the_exit_code() -> None:
    """The console script as users run it, with the hard exit (os._exit) in place."""
    env = {k: v for k, v in os.environ.items() if k != NO_HARD_EXIT}
    argv = [
        sys.executable,
        "-m",
        "daiban.cli",
        "show",
        "abc",
        "--api",
        dead_url(),
        "--token",
        "t",
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("error: cannot connect"), done.stderr


def test_offices_load_is_idempotent(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'daiban.db'}"
    assert_error(run(runner, "offices", "load", "--url", url), 1, "run `daiban db upgrade`")
    assert run(runner, "db", "upgrade", "--url", url).exit_code == 0
    first = run(runner, "offices", "load", "--url", url)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == "1018 offices of the demo city; 1018 added or changed"
    again = run(runner, "offices", "load", "--url", url)
    assert again.stdout.strip() == "1018 offices of the demo city; 0 added or changed"
