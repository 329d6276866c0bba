"""Fixtures of the ``daiban run`` tests: the stack as users run it, a subprocess on free ports with
a temporary var directory and SQLite database, stopped with SIGINT (Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from daiban.core.settings import Settings
from daiban.http.auth import mint_token
from daiban.run.procs import free_port

SECRET = "stack-test-secret-" + "0123456789abcdef" * 4
VILLAGE, TOWNSHIP = "370285004001", "370285004"
RESIDENT = {"name": "王秀英", "id_number": "370285194802150024", "phone": "13805321234"}
READY_TIMEOUT = 60.0


def bearer(role: str, office: str) -> dict[str, str]:
    settings = Settings(environment="test", jwt_secret=SECRET)
    return {"Authorization": f"Bearer {mint_token(settings, f'{role}-1', role, office)}"}


@dataclass
class StackRun:
    """One ``daiban run`` process and where its output goes."""

    root: Path
    temporal_port: int
    ui_port: int
    api_port: int
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def output(self) -> Path:
        return self.root / f"run-{self.runs}.out"

    def start(self, *options: str, **env_extra: str) -> None:
        self.runs += 1
        argv = [sys.executable, "-m", "daiban.cli", "run", "--var-dir", str(self.root / "var")]
        argv += options
        argv += ["--temporal-port", str(self.temporal_port), "--ui-port", str(self.ui_port)]
        argv += ["--api-port", str(self.api_port), "--stop-timeout", "15"]
        env = os.environ | {
            "DAIBAN_DATABASE_URL": f"sqlite:///{self.root / 'daiban.db'}",
            "DAIBAN_JWT_SECRET": SECRET,
            **env_extra,
        }
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output.read_text()
            # The banner is printed once the API is ready; then ask the API itself.
            if "Press Ctrl-C to stop." in self.output.read_text():
                assert httpx.get(f"{self.api}/readyz", timeout=5).status_code == 200
                return
            time.sleep(0.25)
        raise AssertionError(f"not ready in {READY_TIMEOUT} s:\n{self.output.read_text()}")

    def interrupt(self) -> str:
        """Ctrl-C; the exit code must be 0 and every child stopped. Returns the output."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(60) == 0, self.output.read_text()
        self.process = None
        text = self.output.read_text()
        for child in ("api", "worker", "temporal"):
            assert f"{child} stopped\n" in text, text
        assert text.index("api stopped") < text.index("temporal stopped")
        return text

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def stat_fields(stat: Path) -> list[str]:
    """The fields of a /proc ``stat`` file after the command name (which may hold spaces and
    parentheses): [0] is field 3, the state."""
    return stat.read_text().rpartition(")")[2].split()


def niceness(pid: int) -> set[int]:
    """The niceness of every thread of a process (field 19 of /proc/<pid>/task/<tid>/stat)."""
    return {int(stat_fields(task / "stat")[16]) for task in Path(f"/proc/{pid}/task").iterdir()}


def children_by_name(pid: int) -> dict[str, int]:
    """The pids of the children of ``daiban run`` (process ``pid``): api, worker, temporal."""
    names = {
        "daiban.cli serve": "api",
        "daiban.cli worker": "worker",
        "server start-dev": "temporal",
    }
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(stat_fields(entry / "stat")[1])  # field 4
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if parent != pid:
            continue
        for marker, name in names.items():
            if marker in command:
                found[name] = int(entry.name)
    return found


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[StackRun]:
    run = StackRun(tmp_path, free_port(), free_port(), free_port())
    try:
        yield run
    finally:
        run.kill()


def act(api: str, request_id: str, headers: dict[str, str], action: str) -> dict[str, Any]:
    url = f"{api}/v1/requests/{request_id}/actions"
    response = httpx.post(url, json={"action": action}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state
