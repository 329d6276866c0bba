"""The system under test, started fresh for each run: a Temporal dev server on a new SQLite file,
a throw-away PostgreSQL database, the worker (``daiban worker``) and the API (``daiban serve``,
uvicorn), each a child process on free ports; plus the tokens and clients the load uses.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, text
from temporalio.client import Client

from bench.procs import Children, cpu_seconds, postgres_cpu_seconds, temporal_argv, wait_for_port
from daiban.console.session import COOKIE, session_cookie
from daiban.core.settings import Settings
from daiban.core.temporal import converter
from daiban.domain.offices import demo_city, demo_offices, demo_tree
from daiban.domain.scope import Principal
from daiban.domain.workdays import WorkdayCalendar
from daiban.http.auth import mint_token
from daiban.run.priority import BACKGROUND_NICENESS
from daiban.run.procs import Child, free_port
from daiban.store.calendar import set_override
from daiban.store.db import load_offices, make_engine, session_scope, upgrade
from tests.pg import create_database, drop_database

TASK_QUEUE = "daiban-bench"
BARE_TASK_QUEUE = "daiban-bench-bare"
TOKEN_TTL_SECONDS = 6 * 3600
AGENTS_PER_TOWNSHIP = 24  # distinct agents, so that no one exceeds the per-agent submit limit


@dataclass(frozen=True)
class Token:
    role: str
    office: str
    bearer: str
    cookie: str = ""  # the console's session cookie of the same person

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}"}

    @property
    def page_headers(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.cookie}"}


@dataclass
class People:
    """Tokens of the people the load plays: agents of many villages, every township's staff, the
    city staff and a city supervisor."""

    agents: list[Token]
    township_staff: dict[str, Token]
    city_staff: Token
    supervisor: Token

    @classmethod
    def mint(cls, settings: Settings) -> People:
        def token(role: str, office: str) -> Token:
            sub = f"bench-{role}-{office}"
            bearer = mint_token(settings, sub, role, office, TOKEN_TTL_SECONDS)
            principal = Principal(sub=sub, role=role, office=office)
            return Token(role, office, bearer, session_cookie(settings, principal))

        offices = demo_offices()
        townships = [o.code for o in offices if o.tier == "township"]
        agents: list[Token] = []
        for township in townships:
            villages = [
                o.code
                for o in offices
                if o.tier == "village" and demo_tree().township_of(o.code) == township
            ]
            agents += [token("agent", v) for v in villages[:AGENTS_PER_TOWNSHIP]]
        return cls(
            agents=agents,
            township_staff={t: token("township_staff", t) for t in townships},
            city_staff=token("city_staff", demo_city().code),
            supervisor=token("supervisor", demo_city().code),
        )


def township_of_village(village: str) -> str:
    return village[:9]


@dataclass
class System:
    run_dir: Path
    log_level: str = "INFO"
    # As ``daiban run`` starts them: the worker and the dev server nicer than the API.
    background_niceness: int = BACKGROUND_NICENESS
    # The worker's command line; another one lets a profiling session try a variant of it.
    worker_argv: list[str] = field(
        default_factory=lambda: [sys.executable, "-m", "daiban.cli", "worker"]
    )
    children: Children = field(init=False)
    temporal_port: int = field(init=False)
    api_port: int = field(init=False)
    database_url: str = field(init=False)
    settings: Settings = field(init=False)
    people: People = field(init=False)
    temporal: Child | None = None
    worker: Child | None = None
    api: Child | None = None
    bare_worker: Child | None = None
    engine: Engine | None = None
    client: Client | None = None
    bare_client: Client | None = None
    _databases: list[str] = field(default_factory=list)
    _worker_spawned: datetime = field(default_factory=lambda: datetime.now().astimezone())

    def __post_init__(self) -> None:
        self.temporal_port = free_port()
        self.api_port = free_port()
        self.database_url = ""
        secret = secrets.token_urlsafe(48)
        self.settings = Settings(
            temporal_address=self.address,
            task_queue=TASK_QUEUE,
            jwt_secret=SecretStr(secret),
        )
        self.children = Children(
            self.run_dir / "log",
            {
                **_base_env(),
                "DAIBAN_ENVIRONMENT": "development",
                "DAIBAN_TEMPORAL_ADDRESS": self.address,
                "DAIBAN_TASK_QUEUE": TASK_QUEUE,
                "DAIBAN_JWT_SECRET": secret,
                "DAIBAN_LOG_LEVEL": self.log_level,
                # The escalation section moves the closing time to whatever hour the run is at:
                # the offices open at midnight, so its rungs fall within office hours.
                "DAIBAN_OPENING_TIME": "00:00",
                # The run's records for the province stay with the run: its database gives the
                # same request numbers as the last run's, whose keys a shared file already holds.
                "DAIBAN_EXPORT_FILE": str(self.run_dir / "export" / "ratings.jsonl"),
                "PYTHONUNBUFFERED": "1",
            },
        )
        self.people = People.mint(self.settings)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    # --- start ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self.temporal = self.children.spawn(
            "temporal",
            temporal_argv(self.run_dir / "temporal.db", self.temporal_port),
            niceness=self.background_niceness,
        )
        self.database_url = create_database()
        self._databases.append(self.database_url)
        self.settings = self.settings.model_copy(update={"database_url": self.database_url})
        self.children.env["DAIBAN_DATABASE_URL"] = self.database_url
        await asyncio.to_thread(self._prepare_database)
        await asyncio.to_thread(wait_for_port, "127.0.0.1", self.temporal_port, self.temporal)
        self.client = await _connect(self.address, self.settings)
        self.bare_client = await Client.connect(self.address)
        self.worker = self.start_worker()
        self.api = self.children.spawn(
            "api",
            [sys.executable, "-m", "daiban.cli", "serve", "--port", str(self.api_port)],
        )
        await self.wait_ready()

    def _prepare_database(self) -> None:
        upgrade(self.database_url)
        self.engine = make_engine(self.database_url)
        load_offices(self.engine, demo_offices())
        # docs/design.md §2: an on-the-spot item is due today at closing time only on a working day.
        # The escalation section needs today to be one; a bench database may say so.
        today = self.today()
        if not WorkdayCalendar(tz=self.settings.timezone).is_workday(today):
            with session_scope(self.engine) as session:
                set_override(session, today, "workday", note="bench: deadlines within the run")

    def start_worker(self, closing: clock_time | None = None, name: str = "worker") -> Child:
        extra = {"DAIBAN_CLOSING_TIME": closing.isoformat()} if closing else {}
        # A poller's last access time is when its (long) poll began: only polls that began after
        # this instant prove that this worker is up.
        self._worker_spawned = datetime.now().astimezone()
        return self.children.spawn(name, self.worker_argv, extra, niceness=self.background_niceness)

    async def restart_worker(self, closing: clock_time | None = None) -> None:
        if self.worker is not None:
            await asyncio.to_thread(self.children.stop, self.worker)
        self.worker = self.start_worker(closing, name="worker-escalation")
        await self.wait_worker()

    def start_bare_worker(self) -> Child:
        self.bare_worker = self.children.spawn(
            "bare-worker",
            [sys.executable, "-m", "bench.bare", self.address, BARE_TASK_QUEUE],
            niceness=self.background_niceness,
        )
        return self.bare_worker

    async def stop_bare_worker(self) -> None:
        if self.bare_worker is not None:
            await asyncio.to_thread(self.children.stop, self.bare_worker)
            self.bare_worker = None

    async def wait_ready(self, timeout: float = 90.0) -> None:
        """Until the API's /readyz answers 200 and the worker polls its task queue."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.api_url, timeout=2.0) as http:
            while True:
                self.children.check()
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the API was not ready within {timeout:.0f} s")
                await asyncio.sleep(0.2)
        await self.wait_worker(deadline - time.monotonic())

    async def wait_worker(self, timeout: float = 60.0) -> None:
        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

        assert self.client is not None
        deadline = time.monotonic() + max(timeout, 5.0)
        since = self._worker_spawned
        while time.monotonic() < deadline:
            self.children.check()
            response = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace="default",
                    task_queue=TaskQueue(name=TASK_QUEUE),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            if any(p.last_access_time.ToDatetime().astimezone() >= since
                   for p in response.pollers if p.HasField("last_access_time")):  # fmt: skip
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the worker did not poll its task queue in time")

    # --- databases -----------------------------------------------------------------------------

    def new_database(self) -> str:
        url = create_database()
        self._databases.append(url)
        return url

    def drop_databases(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        for url in self._databases:
            try:
                drop_database(url)
            except Exception as error:  # cleanup must go on with the next one
                print(f"warning: could not drop a bench database: {error}", file=sys.stderr)  # noqa: T201
        self._databases.clear()

    def open_requests(self) -> int:
        assert self.engine is not None
        with self.engine.connect() as connection:
            query = text("SELECT count(*) FROM requests WHERE status = 'open'")
            return int(connection.execute(query).scalar_one())

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the system (and by the load generator)."""
        times = os.times()
        snapshot = {"bench": times.user + times.system, "postgres": postgres_cpu_seconds()}
        for name, child in (
            ("server", self.temporal),
            ("worker", self.worker),
            ("api", self.api),
            ("bare_worker", self.bare_worker),
        ):
            if child is not None and child.running():
                snapshot[name] = cpu_seconds(child.pid)
        return snapshot

    def close(self) -> None:
        self.children.stop_all()
        self.drop_databases()

    def today(self) -> date:
        return datetime.now(self.tz).date()


def _base_env() -> dict[str, str]:
    # The children must not pick up the caller's DAIBAN_* settings (a real database, say).
    return {k: v for k, v in os.environ.items() if not k.startswith("DAIBAN_")}


async def _connect(address: str, settings: Settings, timeout: float = 60.0) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(
                address, namespace=settings.temporal_namespace, data_converter=converter(settings)
            )
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
