"""``daiban run``: the whole system on one machine, as child processes of one supervisor.

Start order: the Temporal dev server (unless an external cluster is given), then migrations and the
demo offices, the worker, the API; ready when the API's ``/readyz`` answers 200. Stop order is the
reverse, on Ctrl-C (SIGINT) or SIGTERM: each child gets SIGTERM, then SIGKILL after a timeout; a
second Ctrl-C kills at once. Each child (``daiban.run.procs.Child``) runs in its own process group,
so a Ctrl-C in the terminal reaches only the supervisor, which then stops the children in order; on
Linux a child also gets SIGTERM if the supervisor itself dies, so no orphan keeps holding the ports.

Everything durable lives in files (``var/temporal.db`` and the database), so the next run carries
on where this one stopped: open requests resume and their timers fire. Once ready, the stack records
its addresses and the demo tokens in the var directory (``daiban/run/addresses.py``) so that the
``daiban`` commands and a second terminal find it; a calendar change made while it was stopped is
passed on to the open requests at the next start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from rich.console import Console
from rich.markup import escape

from daiban.core.settings import Settings
from daiban.core.temporal import connect
from daiban.domain.offices import demo_offices, demo_tree
from daiban.http.auth import mint_token
from daiban.run import addresses
from daiban.run.priority import BACKGROUND_NICENESS
from daiban.run.procs import Child, dev_server_argv, temporal_not_ready
from daiban.store.db import display_url, load_offices, make_engine, upgrade
from daiban.store.recompute import signal_open_requests

# The ready-made tokens printed at start: (shell variable, role, office).
DEMO_TOKENS = (
    ("AGENT", "agent", "370285004001"),
    ("STAFF", "township_staff", "370285004"),
    ("SUPERVISOR", "supervisor", "370285000"),
)
TOKEN_TTL_SECONDS = 30 * 24 * 3600
POLL_SECONDS = 0.25


class StackError(Exception):
    """The stack cannot start or a child died; the message is one line."""


class Interrupted(Exception):
    """A stop signal arrived while the stack was still starting."""


@dataclass(frozen=True)
class StackConfig:
    var_dir: Path
    database_url: str
    namespace: str = "default"
    # The address of a Temporal cluster to use; None starts the dev server on temporal_port.
    external_temporal: str | None = None
    temporal_port: int = 7233
    ui_port: int = 8233
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    startup_timeout: float = 60.0
    stop_timeout: float = 20.0
    # Added to the niceness of the worker and the dev server (daiban.run.procs).
    background_niceness: int = BACKGROUND_NICENESS

    @property
    def temporal_address(self) -> str:
        return self.external_temporal or f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.external_temporal else f"http://127.0.0.1:{self.ui_port}"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"


class Stack:
    """Starts, watches and stops the children; ``run()`` returns the exit code."""

    def __init__(self, config: StackConfig, settings: Settings, console: Console) -> None:
        self.config = config
        self.settings = settings
        self.console = console
        self.errors = Console(stderr=True, soft_wrap=True)
        self.children: list[Child] = []
        self._stop = threading.Event()

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._start()
            self._recompute_if_pending()
            tokens = self._tokens()
            addresses.record(self.config.var_dir, self._addresses(), tokens)
            self._announce(tokens)
            return self._supervise()
        except Interrupted:
            return 0
        except StackError as error:
            self.errors.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
            return 1
        finally:
            addresses.forget(self.config.var_dir)
            self._shutdown()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._stop.is_set():  # a second Ctrl-C: no more patience
            for child in self.children:
                child.send(signal.SIGKILL)
        self._stop.set()

    # --- starting ------------------------------------------------------------------------------

    def _start(self) -> None:
        c = self.config
        self._check_ports()
        if c.external_temporal is None:
            self._spawn("temporal", self._temporal_argv(), c.background_niceness)
        self.console.print(f"Waiting for Temporal at {c.temporal_address} …", highlight=False)
        self._wait_until(f"Temporal at {c.temporal_address}", self._temporal_ready)
        self._prepare_database()
        worker = [sys.executable, "-m", "daiban.cli", "worker"]
        self._spawn("worker", worker, c.background_niceness)
        serve = ["serve", "--host", c.api_host, "--port", str(c.api_port)]
        self._spawn("api", [sys.executable, "-m", "daiban.cli", *serve])
        self.console.print(f"Waiting for the worker and the API at {c.api_url} …", highlight=False)
        self._wait_until(f"the API at {c.api_url}", self._api_ready)

    def _check_ports(self) -> None:
        c = self.config
        ports = [("API", c.api_host, c.api_port, "--api-port")]
        if c.external_temporal is None:
            ports.append(("Temporal", "127.0.0.1", c.temporal_port, "--temporal-port"))
            ports.append(("Temporal UI", "127.0.0.1", c.ui_port, "--ui-port"))
        for what, host, port, option in ports:
            with socket.socket() as probe:
                # As the servers bind: connections of a previous run in TIME_WAIT do not count.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((host, port))
                except OSError:
                    raise StackError(
                        f"port {port} ({what}) is in use: is another `daiban run` running? "
                        f"Choose another with {option}."
                    ) from None

    def _temporal_argv(self) -> list[str]:
        c = self.config
        try:
            return dev_server_argv(
                c.var_dir / "temporal.db",
                c.temporal_port,
                ui_port=c.ui_port,
                # The UI decodes payloads through the API (which answers CORS for its origin).
                ui_codec_endpoint=f"http://127.0.0.1:{c.api_port}/codec",
                namespace=c.namespace,
            )
        except FileNotFoundError:
            raise StackError(
                "the temporal CLI is not installed (`make run` installs it with the dev extras); "
                "or use an external cluster with --temporal-address"
            ) from None

    def _child_env(self) -> dict[str, str]:
        c = self.config
        env = dict(os.environ)
        env.update(
            DAIBAN_TEMPORAL_ADDRESS=c.temporal_address,
            DAIBAN_TEMPORAL_NAMESPACE=c.namespace,
            DAIBAN_DATABASE_URL=c.database_url,
            DAIBAN_API_HOST=c.api_host,
            DAIBAN_API_PORT=str(c.api_port),
            PYTHONUNBUFFERED="1",
        )
        if c.ui_url is not None:
            # The Temporal UI decodes payloads through the API's codec endpoint from this origin.
            env.setdefault("DAIBAN_CODEC_CORS_ORIGIN", c.ui_url)
            # Its UI has no sign-in: in development it may decode without a token.
            env.setdefault("DAIBAN_CODEC_DEV_UI_WITHOUT_TOKEN", "true")
        # Records for the province's rating system go beside the stack's other files.
        env.setdefault("DAIBAN_EXPORT_FILE", str(c.var_dir / "export" / "ratings.jsonl"))
        return env

    def _spawn(self, name: str, argv: list[str], niceness: int = 0) -> None:
        log = self.config.log_dir / f"{name}.log"
        child = Child(name, argv, log, self._child_env(), niceness=niceness)
        self.children.append(child)
        child.start()

    def _prepare_database(self) -> None:
        url = self.config.database_url
        try:
            revision = upgrade(url, timezone=self.settings.timezone)
            engine = make_engine(url)
            try:
                changed = load_offices(engine, demo_offices())
            finally:
                engine.dispose()
        except Exception as error:  # one line for any database failure; the stack cannot start
            raise StackError(f"database {display_url(url)}: {error}") from error
        self.console.print(
            f"Database {display_url(url)} is at revision {revision}; "
            f"demo offices loaded ({changed} changed)",
            highlight=False,
        )

    def _wait_until(self, what: str, probe: Callable[[], str | None]) -> None:
        """Poll ``probe`` (None = ready, else why not) until ready, a child dies, or a signal."""
        deadline = time.monotonic() + self.config.startup_timeout
        while True:
            if self._stop.is_set():
                raise Interrupted
            self._check_children()
            reason = probe()
            if reason is None:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{what} not ready after {self.config.startup_timeout:.0f} s ({reason}); "
                    f"logs in {self.config.log_dir}"
                )
            self._stop.wait(POLL_SECONDS)

    def _temporal_ready(self) -> str | None:
        return asyncio.run(temporal_not_ready(self.config.temporal_address, self.config.namespace))

    def _api_ready(self) -> str | None:
        try:
            response = httpx.get(f"{self.config.api_url}/readyz", timeout=2.0)
        except httpx.HTTPError as error:
            return type(error).__name__
        return None if response.status_code == 200 else f"/readyz answered {response.status_code}"

    def _check_children(self) -> None:
        for child in self.children:
            code = child.exit_code()
            if code is not None:
                tail = "\n".join(f"    {line}" for line in child.tail(8))
                raise StackError(
                    f"{child.name} exited with code {code}; last lines of {child.log_path}:\n{tail}"
                )

    # --- running -------------------------------------------------------------------------------

    def _recompute_if_pending(self) -> None:
        """The calendar changed while the stack was stopped: open requests recompute now."""
        if not addresses.recompute_pending(self.config.var_dir):
            return
        settings = self.settings.model_copy(
            update={
                "temporal_address": self.config.temporal_address,
                "temporal_namespace": self.config.namespace,
            }
        )

        async def signal_all() -> int:
            client = await connect(settings)
            engine = make_engine(self.config.database_url)
            try:
                return await signal_open_requests(client, engine)
            finally:
                engine.dispose()

        try:
            count = asyncio.run(signal_all())
        except Exception as error:  # the stack runs on; the mark stays for the next start
            self.errors.print(
                f"[yellow]warning:[/yellow] the calendar changed while stopped, but open requests "
                f"could not be told ({escape(str(error))}); run `daiban calendar recompute`",
                highlight=False,
            )
            return
        addresses.clear_recompute_pending(self.config.var_dir)
        self.console.print(
            f"The calendar changed while stopped: {count} open requests recompute their deadlines",
            highlight=False,
        )

    def _addresses(self) -> addresses.StackAddresses:
        c = self.config
        return addresses.StackAddresses(
            api_url=c.api_url,
            temporal_address=c.temporal_address,
            namespace=c.namespace,
            ui_url=c.ui_url,
            database_url=c.database_url,
            pid=os.getpid(),
        )

    def _tokens(self) -> dict[str, str]:
        return {
            variable: mint_token(self.settings, f"{role}-{office}", role, office, TOKEN_TTL_SECONDS)
            for variable, role, office in DEMO_TOKENS
        }

    def _announce(self, tokens: dict[str, str]) -> None:
        c = self.config
        out = self.console
        out.print("\n[bold green]daiban is running[/bold green]")
        out.print(f"  Console      {c.api_url}/", highlight=False)
        out.print(f"  API docs     {c.api_url}/docs", highlight=False)
        if c.ui_url is not None:
            out.print(f"  Temporal UI  {c.ui_url}", highlight=False)
        out.print(f"  Temporal     {c.temporal_address} (namespace {c.namespace})", highlight=False)
        out.print(f"  database     {display_url(c.database_url)}", highlight=False)
        logs = ", ".join(str(child.log_path) for child in self.children)
        out.print(f"  logs         {logs}", highlight=False)
        out.print("\nTokens, valid 30 days (paste into your shell):")
        for variable, role, office in DEMO_TOKENS:
            out.print(f"  # {role} of {office} {demo_tree().get(office).name}", highlight=False)
            out.print(f"  export {variable}={tokens[variable]}", soft_wrap=True, highlight=False)
        shell_file = c.var_dir / addresses.SHELL_FILE
        out.print(
            "\nIn a second terminal (the daiban commands find this stack by themselves; the file "
            "also sets DAIBAN_API_URL for curl, TEMPORAL_ADDRESS for temporal, and the tokens):",
            highlight=False,
        )
        out.print(f"  source .venv/bin/activate && source {shell_file}", highlight=False)
        if c.var_dir.resolve() != (Path.cwd() / addresses.DEFAULT_VAR_DIR).resolve():
            out.print(f"  export {addresses.VAR_DIR_VARIABLE}={c.var_dir}", highlight=False)
        examples = [
            'curl -s "$DAIBAN_API_URL/v1/catalog" -H "Authorization: Bearer $AGENT"',
            'curl -s "$DAIBAN_API_URL/v1/queue" -H "Authorization: Bearer $STAFF"',
            "daiban list --token $SUPERVISOR",
            "daiban simulate --villages 20 --days 1",
            "daiban simulate --compressed --days 5",
            "temporal workflow list --limit 5",
        ]
        out.print("\nTry:")
        for line in examples:
            out.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)
        out.print("\nPress Ctrl-C to stop.\n")

    def _supervise(self) -> int:
        while not self._stop.wait(0.5):
            try:
                self._check_children()
            except StackError as error:
                self.errors.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
                return 1
        return 0

    def _shutdown(self) -> None:
        for child in reversed(self.children):
            if child.exit_code() is None:
                self.console.print(f"stopping {child.name} …", highlight=False)
            code = child.stop(self.config.stop_timeout)
            # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
            clean = code in (0, -signal.SIGTERM)
            how = "" if clean else f" (exit code {code})"
            self.console.print(f"{child.name} stopped{how}", highlight=False)
        self.children.clear()
