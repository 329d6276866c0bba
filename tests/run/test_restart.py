"""``daiban run`` as users run it: a request survives a restart of the whole stack and goes on.

The stack runs as a subprocess on free ports, a temporary var directory and SQLite database; it is
stopped with SIGINT (Ctrl-C) and started again on the same files.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from daiban.run.priority import BACKGROUND_NICENESS
from daiban.run.procs import free_port
from tests.conftest import temporal_binary
from tests.run.conftest import (
    RESIDENT,
    TOWNSHIP,
    VILLAGE,
    StackRun,
    act,
    bearer,
    children_by_name,
    niceness,
)


def workflow_status(stack: StackRun, request_id: str) -> str:
    """Asked of Temporal itself, not of the API's read model."""
    argv = [temporal_binary("temporal"), "workflow", "describe", "--workflow-id"]
    argv += [f"req-{request_id}", "--address", f"127.0.0.1:{stack.temporal_port}", "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    status: str = json.loads(done.stdout)["workflowExecutionInfo"]["status"]
    return status


def test_a_request_survives_a_restart_and_goes_on(stack: StackRun) -> None:
    agent, staff = bearer("agent", VILLAGE), bearer("township_staff", TOWNSHIP)
    stack.start()
    first = stack.output.read_text()
    assert "Temporal UI  http://127.0.0.1:" in first and "export AGENT=" in first
    # On a busy machine the API answers first: the work behind it runs nicer, every thread of it.
    assert stack.process is not None
    mine = os.nice(0)
    pids = children_by_name(stack.process.pid)
    assert set(pids) == {"api", "worker", "temporal"}
    assert niceness(pids["api"]) == {mine}
    assert niceness(pids["worker"]) == {mine + BACKGROUND_NICENESS}
    assert niceness(pids["temporal"]) == {mine + BACKGROUND_NICENESS}
    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    submitted = httpx.post(f"{stack.api}/v1/requests", json=body, headers=agent, timeout=30)
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["id"]
    assert act(stack.api, request_id, agent, "handoff")["stage"] == "township_review"
    stack.interrupt()

    stack.start("--background-niceness", "0")
    assert "demo offices loaded (0 changed)" in stack.output.read_text()
    assert stack.process is not None
    pids = children_by_name(stack.process.pid)
    assert {name: niceness(pid) for name, pid in pids.items()} == {
        "api": {mine},
        "worker": {mine},
        "temporal": {mine},
    }
    assert workflow_status(stack, request_id) == "WORKFLOW_EXECUTION_STATUS_RUNNING"
    found = httpx.get(f"{stack.api}/v1/requests/{request_id}", headers=staff, timeout=30)
    assert found.status_code == 200, found.text
    assert found.json()["stage"] == "township_review"
    assert "accept" in found.json()["allowed_actions"]
    accepted = act(stack.api, request_id, staff, "accept")
    assert [h["action"] for h in accepted["history"]] == ["submit", "handoff", "accept"]
    assert accepted["accepted_at"] is not None
    stack.interrupt()
    logs = stack.root / "var" / "log"
    assert {p.name for p in logs.iterdir()} == {"temporal.log", "worker.log", "api.log"}
    assert (stack.root / "var" / "temporal.db").exists()


def test_a_deadline_that_passes_while_the_stack_is_down_fires_on_restart(
    stack: StackRun,
) -> None:
    """Durable timers: the official clock of an on-the-spot item runs out while everything is
    stopped; started again, the yellow card fires with its supervision order, and the statutory
    rung with it (the item's two limits are both the same day), recorded."""
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime.now(shanghai)
    # Room for a slow start (a loaded machine takes over a minute to run the stack up to accept).
    closing = now + timedelta(seconds=120)
    assert closing.date() == now.date(), "too close to midnight in Shanghai for this test"
    database = f"sqlite:///{stack.root / 'daiban.db'}"
    cli = [sys.executable, "-m", "daiban.cli"]
    subprocess.run([*cli, "db", "upgrade", "--url", database], check=True, timeout=60)
    # Today must be a working day for a same-day deadline (the test may run on a holiday).
    add = [*cli, "calendar", "add", now.date().isoformat(), "--kind", "workday", "--no-notify"]
    subprocess.run([*add, "--url", database], check=True, timeout=60)
    # Open from midnight: the closing time is after the opening whatever the hour.
    env = {"DAIBAN_CLOSING_TIME": closing.strftime("%H:%M:%S"), "DAIBAN_OPENING_TIME": "00:00"}
    agent, staff = bearer("agent", VILLAGE), bearer("township_staff", TOWNSHIP)

    stack.start(**env)
    body = {"item": "yanglao-dengji", "resident": RESIDENT, "materials": ["居民身份证"]}
    submitted = httpx.post(f"{stack.api}/v1/requests", json=body, headers=agent, timeout=30)
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["id"]
    act(stack.api, request_id, agent, "handoff")
    accepted = act(stack.api, request_id, staff, "accept")
    deadline = datetime.fromisoformat(accepted["deadline"])
    assert deadline == closing.replace(microsecond=0)
    assert accepted["overdue"] == "none"
    stack.interrupt()

    time.sleep(max(0.0, (deadline - datetime.now(shanghai)).total_seconds()) + 2)
    stack.start(**env)
    url = f"{stack.api}/v1/requests/{request_id}"
    until = time.monotonic() + 60
    state = httpx.get(url, headers=staff, timeout=30).json()
    while not (state["overdue"] == "statutory" and state["orders"]) and time.monotonic() < until:
        time.sleep(0.5)
        state = httpx.get(url, headers=staff, timeout=30).json()
    assert state["overdue"] == "statutory", state
    [yellow] = [e for e in state["escalations"] if e["level"] == "yellow"]
    assert yellow["clock"] == "official" and datetime.fromisoformat(yellow["at"]) >= deadline
    [order] = state["orders"]
    assert (order["office"], order["status"]) == (TOWNSHIP, "open")
    assert state["stage"] == "township_review"  # work is never blocked
    stack.interrupt()


def test_a_busy_port_stops_the_start_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "daiban.cli", "run", "--var-dir", str(tmp_path / "var")]
        argv += ["--api-port", str(port), "--temporal-port", str(free_port())]
        env = os.environ | {"DAIBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'daiban.db'}"}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"error: port {port} (API) is in use" in done.stderr
    assert not (tmp_path / "var" / "log").exists()  # nothing was started


def test_ctrl_c_while_waiting_for_temporal_stops_at_once(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "daiban.cli", "run", "--var-dir", str(tmp_path / "var")]
    argv += ["--temporal-address", f"127.0.0.1:{free_port()}", "--api-port", str(free_port())]
    env = os.environ | {"DAIBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'daiban.db'}"}
    output = tmp_path / "run.out"
    with output.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "Waiting for Temporal" not in output.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0, output.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert "daiban is running" not in output.read_text()
