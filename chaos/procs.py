"""The system under test as child processes of the chaos runner, as in production.

A dedicated PostgreSQL instance (``initdb`` on a temporary directory, ``postgres`` in the foreground
on a free port), the Temporal dev server (SQLite file, the search attributes and settings of
``daiban run``), two workers (``python -m worker``) and the API (``uvicorn api:app``). Each child
(``daiban.run.procs.Child``) runs in its own process group (a Ctrl-C in the terminal reaches only
the runner) and gets a signal from the kernel if the runner dies, so nothing outlives a run.

Nothing here touches the machine's own PostgreSQL: stopping the dedicated instance for the outage
affects no other test on the machine.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from daiban.core.settings import Settings
from daiban.domain.offices import demo_offices
from daiban.run.procs import Child, dev_server_argv, free_ports, temporal_not_ready
from daiban.store.db import load_offices, make_engine, upgrade

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = "default"
DATABASE = "daiban"
POLL = 0.1


class StartError(Exception):
    """A component did not start; the message is one line and names its log."""


async def eventually(
    what: str, probe: Callable[[], Awaitable[str | None]], timeout: float, interval: float = 0.25
) -> float:
    """Poll ``probe`` (None = ready, else why not) until ready; the seconds it took. Raises
    ``StartError`` with the last reason after ``timeout`` seconds."""
    start = time.monotonic()
    while True:
        reason = await probe()
        if reason is None:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise StartError(f"{what} not ready after {timeout:.0f} s: {reason}")
        await asyncio.sleep(interval)


class Proc:
    """A component of the system under test: a ``Child`` that the runner may kill and start
    again. Its waits are async, so the event loop drives the load meanwhile."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.name = child.name
        self.starts = 0
        # False while the runner means it to run; set before every deliberate stop or kill.
        self.stopping = False

    def start(self) -> None:
        self.child.start()
        self.starts += 1
        self.stopping = False

    def exit_code(self) -> int | None:
        """None while it runs (or before it ever started)."""
        return self.child.exit_code()

    async def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it still runs after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.child.process is not None:
            code = self.child.process.poll()
            if code is not None or time.monotonic() >= deadline:
                return code
            await asyncio.sleep(0.05)
        return None

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """``signum`` to the process alone, then SIGKILL to the whole group after ``timeout``; the
        exit code."""
        if self.child.process is None:
            return None
        self.stopping = True
        self.child.send(signum, group=False)
        code = await self.wait(timeout)
        if code is None:
            self.child.send(signal.SIGKILL)
            code = await self.wait(10.0)
        return code

    async def kill(self) -> int | None:
        """SIGKILL to the process alone, as a crash: no handler runs."""
        self.stopping = True
        self.child.send(signal.SIGKILL, group=False)
        return await self.wait(10.0)

    def output_since_start(self) -> str:
        try:
            with self.child.log_path.open("rb") as log:
                log.seek(self.child.log_offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 6) -> str:
        text = self.output_since_start().rstrip().splitlines()[-lines:]
        return "\n".join(f"    {line}" for line in text)


def _postgres_bin() -> Path:
    """The directory of ``initdb`` and ``postgres``: the newest /usr/lib/postgresql/N/bin, or
    the one on PATH."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=version,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise StartError("PostgreSQL server binaries (initdb, postgres) not found")
    return Path(initdb).parent


@dataclass(frozen=True)
class Ports:
    postgres: int
    temporal: int
    api: int


@dataclass
class System:
    """Every component of one run, under ``root``."""

    root: Path
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)  # settings of every component
    workers_started_at: float = 0.0  # time.monotonic() of the last deploy's first start
    ports: Ports = field(init=False)
    settings: Settings = field(init=False)
    postgres: Proc = field(init=False)
    temporal: Proc = field(init=False)
    worker_procs: list[Proc] = field(init=False)
    api: Proc = field(init=False)

    def __post_init__(self) -> None:
        self.ports = Ports(*free_ports(3))
        # Production settings with real secrets made for this run (the development ones are
        # refused in production).
        codec_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.settings = Settings(
            environment="production",
            temporal_address=f"127.0.0.1:{self.ports.temporal}",
            temporal_namespace=NAMESPACE,
            database_url=self.database_url,
            jwt_secret=secrets.token_urlsafe(48),
            codec_keys=f"chaos1:{codec_key}",
            log_level="INFO",
        )
        env = self._child_env()
        logs = self.root / "log"
        user = "postgres" if os.geteuid() == 0 else None
        # Every component runs in the repository (``python -m worker``, ``uvicorn api:app``).
        postgres = Child(
            "postgres",
            self._postgres_argv(),
            logs / "postgres.log",
            env,
            cwd=REPO,
            user=user,
            # Immediate shutdown if the runner dies: no waiting for clients.
            death_signal=signal.SIGQUIT,
        )
        self.postgres = Proc(postgres)
        temporal = Child("temporal", self._temporal_argv(), logs / "temporal.log", env, cwd=REPO)
        self.temporal = Proc(temporal)
        worker_argv = [sys.executable, "-m", "worker"]
        self.worker_procs = [
            Proc(Child(f"worker-{n}", worker_argv, logs / f"worker-{n}.log", env, cwd=REPO))
            for n in range(1, self.workers + 1)
        ]
        api_argv = [sys.executable, "-m", "uvicorn", "api:app", "--host", "127.0.0.1"]
        api_argv += ["--port", str(self.ports.api), "--no-access-log"]
        self.api = Proc(Child("api", api_argv, logs / "api.log", env, cwd=REPO))

    # --- addresses -----------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/{DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/postgres"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def procs(self) -> list[Proc]:
        return [self.postgres, self.temporal, *self.worker_procs, self.api]

    def _child_env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            DAIBAN_ENVIRONMENT=s.environment,
            DAIBAN_TEMPORAL_ADDRESS=s.temporal_address,
            DAIBAN_TEMPORAL_NAMESPACE=s.temporal_namespace,
            DAIBAN_DATABASE_URL=s.database_url,
            DAIBAN_JWT_SECRET=s.jwt_secret.get_secret_value(),
            DAIBAN_CODEC_KEYS=s.codec_keys.get_secret_value(),
            DAIBAN_LOG_LEVEL=s.log_level,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def _postgres_argv(self) -> list[str]:
        # fsync off: the instance lives for one run and is only ever stopped cleanly (a fast
        # shutdown writes everything); commits stay synchronous.
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "max_connections": "300",
            "fsync": "off",
            "full_page_writes": "off",
        }
        argv = [str(_postgres_bin() / "postgres"), "-D", str(self._pg_data), "-p"]
        argv.append(str(self.ports.postgres))
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        return argv

    @property
    def _pg_data(self) -> Path:
        return self.root / "pg" / "data"

    def _temporal_argv(self) -> list[str]:
        try:
            return dev_server_argv(
                self.root / "temporal.db", self.ports.temporal, namespace=NAMESPACE
            )
        except FileNotFoundError:
            raise StartError(
                "the temporal CLI is not installed (the dev extras install it)"
            ) from None

    # --- starting ------------------------------------------------------------------------------

    async def start(self) -> None:
        # Settings the runner added after the system was built (the gateway's address, the
        # export file) reach the workers and the API from their first start, as they do after a
        # deploy or a restart.
        for proc in (*self.worker_procs, self.api):
            proc.child.env = self._child_env()
        self._init_postgres()
        await self.start_postgres()
        self._prepare_database()
        await self.start_temporal()
        for worker in self.worker_procs:
            worker.start()
        for worker in self.worker_procs:
            await self.wait_worker(worker)
        self.api.start()
        await self.wait_api(ready=True)

    def _init_postgres(self) -> None:
        data = self._pg_data
        data.mkdir(parents=True)
        user = self.postgres.child.user
        if user is not None:  # root: the server runs as the postgres account
            account = pwd.getpwnam(user)
            self.root.chmod(0o755)
            for path in (data.parent, data):
                os.chown(path, account.pw_uid, account.pw_gid)
        data.chmod(0o700)
        argv = [str(_postgres_bin() / "initdb"), "-D", str(data), "-U", "postgres"]
        argv += ["--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"]
        done = subprocess.run(argv, capture_output=True, text=True, user=user, check=False)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise StartError(f"initdb failed: {lines[-1] if lines else done.returncode}")

    async def start_postgres(self) -> float:
        """Start the instance; the seconds until it accepts connections."""
        self.postgres.start()
        return await eventually("PostgreSQL", self._postgres_probe, 60)

    async def _postgres_probe(self) -> str | None:
        self._check_alive(self.postgres)
        try:
            connection = await psycopg.AsyncConnection.connect(self.admin_url, connect_timeout=2)
        except psycopg.OperationalError as error:
            return (str(error).strip().splitlines() or ["?"])[0]
        await connection.close()
        return None

    def _prepare_database(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        upgrade(self.database_url)
        engine = make_engine(self.database_url)
        try:
            load_offices(engine, demo_offices())
        finally:
            engine.dispose()

    async def start_temporal(self) -> float:
        """Start the dev server (again, on the same file and port); seconds until it serves."""
        self.temporal.start()
        return await eventually("Temporal", self._temporal_probe, 90)

    async def _temporal_probe(self) -> str | None:
        self._check_alive(self.temporal)
        return await temporal_not_ready(self.settings.temporal_address, NAMESPACE)

    async def wait_worker(self, worker: Proc) -> float:
        async def probe() -> str | None:
            self._check_alive(worker)
            return None if "worker started" in worker.output_since_start() else "starting"

        return await eventually(worker.name, probe, 60)

    async def wait_api(self, *, ready: bool) -> float:
        """Until ``/readyz`` answers 200 (``ready``) or ``/healthz`` does."""
        path = "/readyz" if ready else "/healthz"

        async def probe() -> str | None:
            self._check_alive(self.api)
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    response = await http.get(self.api_url + path)
            except httpx.HTTPError as error:
                return type(error).__name__
            return None if response.status_code == 200 else f"{path} {response.status_code}"

        return await eventually("the API", probe, 60)

    def _check_alive(self, proc: Proc) -> None:
        code = proc.exit_code()
        if code is not None and not proc.stopping:
            raise StartError(f"{proc.name} exited with code {code}:\n{proc.tail()}")

    # --- deploys -------------------------------------------------------------------------------

    def release_tree(self, commit: str) -> Path:
        """The code of an earlier release, as its checkout would hold it (``git archive``)."""
        target = self.root / f"release-{commit}"
        if target.exists():
            return target
        target.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", commit],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            reason = archive.stderr.decode(errors="replace").strip().splitlines()
            raise StartError(f"release {commit} not in this checkout: {reason[-1:]}")
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        return target

    async def deploy_workers(self, code: Path, env: dict[str, str]) -> None:
        """Stop every worker (gracefully, as a rolling deploy's last step would), then start them
        from ``code`` with ``env`` added to their settings."""
        await asyncio.gather(*(w.stop() for w in self.worker_procs))
        self.workers_started_at = time.monotonic()
        for worker in self.worker_procs:
            worker.child.cwd = code
            worker.child.env = {**self._child_env(), **env}
            worker.start()
        for worker in self.worker_procs:
            await self.wait_worker(worker)

    async def restart_api(self, env: dict[str, str]) -> None:
        await self.api.stop(timeout=10)
        self.api.child.env = {**self._child_env(), **env}
        self.api.start()
        await self.wait_api(ready=True)

    # --- stopping ------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """API and workers first, then Temporal, then PostgreSQL; SIGKILL after a timeout."""
        await asyncio.gather(self.api.stop(timeout=10), *(w.stop() for w in self.worker_procs))
        await self.temporal.stop(timeout=10)
        await self.postgres.stop(signal.SIGINT, timeout=15)
