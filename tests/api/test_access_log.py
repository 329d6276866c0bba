"""One log line per HTTP request, with its route named, from the API started the way the
deployment files start it (``uvicorn api:app``, uvicorn's own logging and access log on)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from daiban.run.procs import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
PATHS = {"/healthz": "/healthz", "/docs": "/docs", "/openapi.json": "/openapi.json"}


def test_each_request_is_logged_once_with_its_route(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "DAIBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'daiban.db'}",
        "DAIBAN_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # not needed for these paths
    }
    output = tmp_path / "api.out"
    argv = [sys.executable, "-m", "uvicorn", "api:app", "--host", "127.0.0.1", "--port", str(port)]
    with output.open("wb") as out:
        server = subprocess.Popen(
            argv, cwd=REPOSITORY, env=env, stdout=out, stderr=subprocess.STDOUT
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
        for path in PATHS:
            assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    lines = output.read_text().splitlines()
    assert not [line for line in lines if "HTTP/1.1" in line], "uvicorn's access line"
    requests = [json.loads(line) for line in lines if '"http request"' in line]
    routes = [r["route"] for r in requests]
    # The first /healthz may have been polled several times while the server started.
    assert routes[-3:] == list(PATHS.values()), routes
    assert "unmatched" not in routes
    assert all(r["status"] == 200 and r["request_id"] for r in requests)
