"""The API started the way the deployment files start it (their own ``uvicorn`` command line, with
uvicorn's own logging and access log on): one log line per HTTP request with its route named, and
what uvicorn refuses before the app sees it answered as a problem."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from daiban.run.procs import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
PATHS = {"/healthz": "/healthz", "/docs": "/docs", "/openapi.json": "/openapi.json"}


def deployment_argv(port: int) -> list[str]:
    """The API's command in deploy/compose.yaml, on a loopback port of this test."""
    compose = yaml.safe_load((REPOSITORY / "deploy" / "compose.yaml").read_text())
    command: list[str] = list(compose["services"]["api"]["command"])
    assert command[:2] == ["uvicorn", "api:app"], command
    argv = [sys.executable, "-m", *command]
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    return argv


@dataclass
class Deployed:
    port: int
    server: subprocess.Popen[bytes]
    output: Path

    def stop(self) -> list[str]:
        self.server.send_signal(signal.SIGTERM)
        self.server.wait(30)
        return self.output.read_text().splitlines()


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    port = free_port()
    env = os.environ | {
        "DAIBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'daiban.db'}",
        "DAIBAN_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # not needed for these paths
    }
    output = tmp_path / "api.out"
    with output.open("wb") as out:
        server = subprocess.Popen(
            deployment_argv(port), cwd=REPOSITORY, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, output.read_text()
                assert server.poll() is None, output.read_text()
                time.sleep(0.2)
        yield Deployed(port, server, output)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)


def test_each_request_is_logged_once_with_its_route(deployed: Deployed) -> None:
    for path in PATHS:
        assert httpx.get(f"http://127.0.0.1:{deployed.port}{path}", timeout=10).status_code == 200
    lines = deployed.stop()
    assert not [line for line in lines if "HTTP/1.1" in line], "uvicorn's access line"
    requests = [json.loads(line) for line in lines if '"http request"' in line]
    routes = [r["route"] for r in requests]
    # The first /healthz may have been polled several times while the server started.
    assert routes[-3:] == list(PATHS.values()), routes
    assert "unmatched" not in routes
    assert all(r["status"] == 200 and r["request_id"] for r in requests)


def raw_exchange(port: int, data: bytes) -> tuple[str, dict[str, str], dict[str, object]]:
    """Send bytes as they are and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *fields = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    return status, headers, json.loads(body)


def test_what_uvicorn_refuses_is_a_problem_too(deployed: Deployed) -> None:
    # Headers beyond h11's 16 KB limit, still arriving (no blank line yet): 431.
    big = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 20_000
    status, headers, body = raw_exchange(deployed.port, big)
    assert status.startswith("HTTP/1.1 431 ")
    assert headers["content-type"] == "application/problem+json"
    assert body["status"] == 431 and "16384 bytes" in str(body["detail"])
    # Not HTTP at all: 400.
    status, headers, body = raw_exchange(deployed.port, b"NOT\x00HTTP\r\n\r\n")
    assert status.startswith("HTTP/1.1 400 ")
    assert headers["content-type"] == "application/problem+json" and body["status"] == 400
    # The server goes on serving.
    assert httpx.get(f"http://127.0.0.1:{deployed.port}/healthz", timeout=10).status_code == 200
