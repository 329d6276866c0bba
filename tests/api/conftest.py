"""The API through real HTTP: one Temporal dev server, one SQLite read model, one worker and one
uvicorn server on a free port for the whole session; httpx talks to it over TCP.

The deployment serves two cities: the seed city and a small second one (``SECOND_*``), whose
requests only tests/api/test_scope.py makes.

Real time: the dev server does not skip time (escalation timing is tested in tests/workflows).
Every test submits its own requests, so tests do not depend on each other's order.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api import create_app
from daiban.core.settings import Settings
from daiban.core.temporal import connect
from daiban.domain.offices import Office, OfficeTree, demo_offices
from daiban.http.auth import mint_token
from daiban.store.db import load_offices, make_engine, upgrade
from tests.temporal_helpers import start_dev_server, target_of
from worker import build_worker

SECRET = "api-test-secret-" + "0123456789abcdef" * 4
TOWNSHIP = "370285004"  # 姜山镇, rural
VILLAGE = "370285004001"
NEIGHBOUR = "370285004002"  # same township, another village
OTHER_TOWNSHIP = "370285005"
FAR_VILLAGE = "370285005001"  # another township
CITY = "370285000"
# The second city: a township with a community service center over two villages.
SECOND_CITY, SECOND_TOWNSHIP = "370283000", "370283001"
SECOND_CENTER, SECOND_VILLAGE = "370283001S01", "370283001001"
SECOND_OFFICES = [
    Office(SECOND_CITY, "平度市行政服务中心", "city", None, False),
    Office(SECOND_TOWNSHIP, "东阁街道", "township", SECOND_CITY, True),
    Office(SECOND_CENTER, "杭州路社区服务中心", "community", SECOND_TOWNSHIP, True),
    Office(SECOND_VILLAGE, "杭州路社区", "village", SECOND_CENTER, True),
    Office("370283001002", "红旗社区", "village", SECOND_CENTER, True),
]
OFFICES = OfficeTree([*demo_offices(), *SECOND_OFFICES])
RESIDENT = {"name": "王秀英", "id_number": "370285194802150024", "phone": "13805321234"}
MASKED = {"name": "王*英", "id_number": "370285********0024", "phone": "138****1234"}
TOWNSHIP_ITEM = "linshi-jiuzhu"  # decided at the township
CITY_ITEM = "dibao"  # forwarded to and decided at the city


@dataclass
class Caller:
    """One token holder talking to the API."""

    http: httpx.AsyncClient
    token: str | None
    role: str = ""
    office: str = ""

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    async def get(self, path: str, **params: Any) -> httpx.Response:
        query = {k: v for k, v in params.items() if v is not None}
        return await self.http.get(path, params=query, headers=self._headers())

    async def post(
        self, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(path, json=json, headers=self._headers(headers))

    async def submit(
        self, item: str = TOWNSHIP_ITEM, key: str | None = None, **body: Any
    ) -> httpx.Response:
        payload = {"item": item, "resident": RESIDENT, "materials": ["户口簿"], **body}
        headers = {"Idempotency-Key": key} if key else None
        return await self.post("/v1/requests", payload, headers)

    async def new_request(self, item: str = TOWNSHIP_ITEM) -> str:
        response = await self.submit(item)
        assert response.status_code == 201, response.text
        request_id: str = response.json()["id"]
        return request_id

    async def act(self, request_id: str, action: str, **fields: Any) -> httpx.Response:
        return await self.post(f"/v1/requests/{request_id}/actions", {"action": action, **fields})

    async def do(self, request_id: str, action: str, **fields: Any) -> dict[str, Any]:
        """An action that must succeed; the new state."""
        response = await self.act(request_id, action, **fields)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state


@dataclass
class Stack:
    base_url: str
    settings: Settings
    client: Client
    engine: Engine
    http: httpx.AsyncClient

    def token(self, role: str, office: str, sub: str | None = None, **extra: Any) -> str:
        sub = sub or f"{role}-{office}"
        return mint_token(self.settings, sub, role, office, extra=extra, offices=OFFICES)

    def caller(self, role: str, office: str, sub: str | None = None) -> Caller:
        return Caller(self.http, self.token(role, office, sub), role, office)

    def anonymous(self, token: str | None = None) -> Caller:
        return Caller(self.http, token)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free port, in this event loop; yields its base URL."""
    # IPPROTO_TCP so that uvicorn sets TCP_NODELAY (otherwise each reply waits ~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped the server
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def make_settings(database_url: str, temporal_address: str, **overrides: Any) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=f"api-{uuid.uuid4().hex[:8]}",
        jwt_secret=SecretStr(SECRET),
        **overrides,
    )


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    async with env:
        yield env


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("api") / "daiban.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    load_offices(engine, OFFICES)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
async def stack(dev_server: WorkflowEnvironment, database_url: str) -> AsyncIterator[Stack]:
    settings = make_settings(database_url, target_of(dev_server))
    engine = make_engine(database_url)
    # Connected as production connects (the settings' data converter, payloads encrypted).
    client = await connect(settings)
    worker = build_worker(client, engine, settings, task_queue=settings.task_queue)
    app = create_app(settings, client=client, engine=engine)
    async with worker, serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        yield Stack(base_url, settings, client, engine, http)
    engine.dispose()


@pytest.fixture(scope="session")
def agent(stack: Stack) -> Caller:
    return stack.caller("agent", VILLAGE)


@pytest.fixture(scope="session")
def staff(stack: Stack) -> Caller:
    return stack.caller("township_staff", TOWNSHIP)


@pytest.fixture(scope="session")
def city_staff(stack: Stack) -> Caller:
    return stack.caller("city_staff", CITY)


@pytest.fixture(scope="session")
def supervisor(stack: Stack) -> Caller:
    return stack.caller("supervisor", CITY)
