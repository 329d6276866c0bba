"""A stack on non-default ports is found by the ``daiban`` commands and by a second terminal, and a
calendar change made while it is stopped reaches the open requests at its next start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import httpx

from daiban.run import addresses
from tests.run.conftest import RESIDENT, SECRET, TOWNSHIP, VILLAGE, StackRun, act, bearer

REPOSITORY = Path(__file__).resolve().parents[2]


def daiban(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The console script as a user in ``root`` runs it: no --api, no Temporal address."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAIBAN_API_URL", "DAIBAN_TEMPORAL_ADDRESS", "DAIBAN_VAR_DIR")
    }
    argv = [sys.executable, "-m", "daiban.cli", *args]
    full_env = clean | {"DAIBAN_JWT_SECRET": SECRET, **env}
    return subprocess.run(argv, cwd=root, env=full_env, capture_output=True, text=True, timeout=120)


def test_the_record_names_a_live_process_only(tmp_path: Path) -> None:
    found = addresses.StackAddresses(
        "http://127.0.0.1:18000", "127.0.0.1:17233", "default", None, "sqlite:///x.db", os.getpid()
    )
    addresses.record(tmp_path, found, {"AGENT": "a b"})
    assert addresses.running(tmp_path) == found
    shell = (tmp_path / "env.sh").read_text()
    assert "export DAIBAN_API_URL=http://127.0.0.1:18000" in shell
    assert "export TEMPORAL_ADDRESS=127.0.0.1:17233" in shell and "export AGENT='a b'" in shell
    assert (tmp_path / "env.sh").stat().st_mode & 0o077 == 0  # it holds tokens
    dead = json.loads((tmp_path / "stack.json").read_text()) | {"pid": 2**22 + 17}
    (tmp_path / "stack.json").write_text(json.dumps(dead))
    assert addresses.running(tmp_path) is None
    addresses.forget(tmp_path)
    assert not any(tmp_path.iterdir())


def test_commands_find_the_running_stack_and_a_stopped_one_recomputes_at_start(
    stack: StackRun,
) -> None:
    root = stack.root
    database = {"DAIBAN_DATABASE_URL": f"sqlite:///{root / 'daiban.db'}"}
    agent, staff = bearer("agent", VILLAGE), bearer("township_staff", TOWNSHIP)
    stack.start()
    banner = stack.output.read_text()
    assert "source .venv/bin/activate && source " in banner
    var = root / "var"
    shell = (var / "env.sh").read_text()
    assert f"export DAIBAN_API_URL=http://127.0.0.1:{stack.api_port}" in shell
    assert f"export TEMPORAL_ADDRESS=127.0.0.1:{stack.temporal_port}" in shell
    assert "export SUPERVISOR=" in shell

    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    submitted = httpx.post(f"{stack.api}/v1/requests", json=body, headers=agent, timeout=30)
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["id"]
    before = act(stack.api, request_id, agent, "handoff")["deadline"]

    token = daiban(root, "token", "--role", "supervisor", "--office", "370285000")
    assert token.returncode == 0, token.stderr
    listed = daiban(root, "list", "--token", token.stdout.strip(), "--json")
    assert listed.returncode == 0, listed.stderr  # no --api: found through var/stack.json
    assert request_id in [r["id"] for r in json.loads(listed.stdout)["items"]]
    stack.interrupt()
    assert not (var / "stack.json").exists() and not (var / "env.sh").exists()

    unreachable = daiban(root, "list", "--token", token.stdout.strip())
    assert unreachable.returncode == 3
    assert "is the stack running?" in unreachable.stderr

    # The acceptance window's last day becomes a holiday while the stack is stopped.
    last_day = datetime.fromisoformat(before).date()
    added = daiban(root, "calendar", "add", last_day.isoformat(), "--kind", "holiday", **database)
    assert added.returncode == 0, added.stderr
    assert "recompute their deadlines when it next starts" in added.stdout
    assert (var / addresses.RECOMPUTE_PENDING).exists()

    stack.start()
    assert "The calendar changed while stopped: 1 open requests recompute" in (
        stack.output.read_text()
    )
    assert not (var / addresses.RECOMPUTE_PENDING).exists()
    state = httpx.get(f"{stack.api}/v1/requests/{request_id}", headers=staff, timeout=30).json()
    after: date = datetime.fromisoformat(state["deadline"]).date()
    assert after > last_day, (before, state["deadline"])
    stack.interrupt()


def test_make_run_passes_the_ports_on() -> None:
    dry = subprocess.run(
        ["make", "-n", "run", "API_PORT=18000", "TEMPORAL_PORT=17233"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = dry.stdout.replace("\\\n", " ").splitlines()  # the recipe's continued lines, joined
    line = next(line for line in lines if "daiban run" in line)
    assert "--api-port 18000" in line and "--temporal-port 17233" in line
    assert "--ui-port" not in line  # the dev server's default: temporal port + 1000
