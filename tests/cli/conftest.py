"""Fixtures of the CLI tests: a CliRunner with test settings, and a real API served from a thread.

CliRunner runs a command synchronously in the test's thread, and ``daiban simulate`` runs its own
event loop, so the API cannot live in the test session's event loop (as tests/api serves it):
here the dev server, the worker and uvicorn run in a background thread with a loop of their own,
one for the whole session.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from api import create_app
from daiban.cli.main import NO_HARD_EXIT
from daiban.core.settings import Settings, get_settings
from daiban.core.temporal import connect
from daiban.domain.offices import demo_offices
from daiban.http.auth import mint_token
from daiban.store.db import load_offices, make_engine, upgrade
from tests.temporal_helpers import start_dev_server, target_of
from worker import build_worker

SECRET = "cli-test-secret-" + "0123456789abcdef" * 4
VILLAGE = "370285004001"
TOWNSHIP = "370285004"
CITY = "370285000"
RESIDENT = {"name": "王秀英", "id_number": "370285194802150024", "phone": "13805321234"}
START_TIMEOUT = 90.0


@pytest.fixture(autouse=True)
def cli_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings the commands read (the test secret), and no hard exit from ``main``."""
    monkeypatch.setenv("DAIBAN_JWT_SECRET", SECRET)
    monkeypatch.setenv(NO_HARD_EXIT, "1")
    for name in ("DAIBAN_API_URL", "DAIBAN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def token(role: str, office: str) -> str:
    settings = Settings(environment="test", jwt_secret=SECRET)
    return mint_token(settings, f"{role}-{office}", role, office)


class ServedApi(threading.Thread):
    """Temporal dev server, worker and API in one thread with its own event loop."""

    def __init__(self, database_url: str) -> None:
        super().__init__(name="served-api", daemon=True)
        self.database_url = database_url
        self.base_url = ""
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # handed to the fixture, which raises it in the test
            self.error = error
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        async with await start_dev_server() as env:
            settings = Settings(
                environment="test",
                database_url=self.database_url,
                temporal_address=target_of(env),
                task_queue=f"cli-{uuid.uuid4().hex[:8]}",
                jwt_secret=SECRET,
            )
            engine = make_engine(self.database_url)
            client = await connect(settings)
            app = create_app(settings, client=client, engine=engine)
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                async with build_worker(client, engine, settings, task_queue=settings.task_queue):
                    serving = asyncio.create_task(server.serve(sockets=[sock]))
                    while not server.started:
                        if serving.done():
                            serving.result()  # raises what stopped the server
                        await asyncio.sleep(0.01)
                    self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
                    self._ready.set()
                    await asyncio.to_thread(self._stopping.wait)
                    server.should_exit = True
                    await serving
            engine.dispose()

    def wait_ready(self) -> None:
        if not self._ready.wait(START_TIMEOUT) or self.error is not None:
            raise RuntimeError(f"the API did not start: {self.error!r}") from self.error

    def stop(self) -> None:
        self._stopping.set()
        self.join(START_TIMEOUT)


@contextmanager
def serving(url: str) -> Iterator[ServedApi]:
    """A served API on the database at ``url`` (migrated here, with the demo offices)."""
    upgrade(url)
    engine = make_engine(url)
    load_offices(engine, demo_offices())
    engine.dispose()
    served = ServedApi(url)
    served.start()
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="session")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    """A served API on a fresh SQLite database with the demo offices, for the session."""
    path: Path = tmp_path_factory.mktemp("cli") / "daiban.db"
    with serving(f"sqlite:///{path}") as served:
        yield served


@pytest.fixture(scope="session")
def api_url(served_api: ServedApi) -> str:
    """Base URL of the served API."""
    return served_api.base_url
