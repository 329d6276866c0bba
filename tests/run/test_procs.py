"""daiban.run.procs: the child processes of ``daiban run``, the bench and the chaos suite, and the
one command line of the Temporal dev server they all start."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from daiban.core.settings import Settings
from daiban.run.procs import (
    Child,
    dev_server_argv,
    free_ports,
    installed_binary,
    temporal_not_ready,
)
from daiban.run.stack import Stack, StackConfig
from models.search_attributes import cli_flags
from tests.run.conftest import niceness as thread_niceness
from tests.run.conftest import stat_fields

TEMPORAL = installed_binary("temporal")
SEARCH_ATTRIBUTES = {("--search-attribute", flag) for flag in cli_flags()}
# What every caller's dev server has, whatever the options.
ALWAYS = {
    ("--ip", "127.0.0.1"),
    ("--sqlite-pragma", "journal_mode=wal"),
    ("--sqlite-pragma", "synchronous=normal"),
    ("--dynamic-config-value", "matching.numTaskqueueReadPartitions=1"),
    ("--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"),
    ("--log-level", "warn"),
} | SEARCH_ATTRIBUTES
MULTI_OPERATION = ("--dynamic-config-value", "frontend.enableExecuteMultiOperation=true")
EAGER = ("--dynamic-config-value", "system.enableActivityEagerExecution=true")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


# A child that says it is up, then sleeps; on SIGTERM it says goodbye and exits 3.
GRACEFUL = python(
    """
    import signal, sys, time
    def bye(*_):
        print("bye", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, bye)
    print("up", flush=True)
    time.sleep(60)
    """
)
# A child that ignores SIGTERM.
STUBBORN = python(
    """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("up", flush=True)
    time.sleep(60)
    """
)


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet has finished)."""
    try:
        return stat_fields(Path(f"/proc/{pid}/stat"))[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Children a test starts; any still running at the end is killed."""
    started: list[Child] = []
    yield started
    for child in started:
        child.stop(timeout=1)


def spawn(children: list[Child], tmp_path: Path, argv: list[str], name: str = "c") -> Child:
    child = Child(name, argv, tmp_path / "log" / f"{name}.log", dict(os.environ))
    children.append(child)
    child.start()
    return child


def up(child: Child) -> None:
    eventually(lambda: "up" in child.tail(1))


# --- a child process ---------------------------------------------------------------------------


def test_a_child_that_handles_sigterm_stops_gracefully(
    children: list[Child], tmp_path: Path
) -> None:
    child = spawn(children, tmp_path, GRACEFUL)
    up(child)
    assert child.running() and child.exit_code() is None
    started = time.monotonic()
    assert child.stop(timeout=10) == 3
    assert time.monotonic() - started < 5
    assert child.tail(2) == ["up", "bye"]
    assert not child.running() and child.exit_code() == 3


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(
    children: list[Child], tmp_path: Path
) -> None:
    child = spawn(children, tmp_path, STUBBORN)
    up(child)
    started = time.monotonic()
    assert child.stop(timeout=0.5) == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - started < 5


def test_a_child_runs_at_the_niceness_it_is_given(children: list[Child], tmp_path: Path) -> None:
    mine = os.nice(0)
    for niceness in (0, 3):
        child = Child(f"n{niceness}", ["sleep", "60"], tmp_path / "n.log", {}, niceness=niceness)
        children.append(child)
        child.start()
        # Set between fork and exec: what the program runs at from its first instruction.
        assert thread_niceness(child.pid) == {mine + niceness}
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == mine + niceness


def test_exit_codes(children: list[Child], tmp_path: Path) -> None:
    child = Child("never", ["true"], tmp_path / "never.log", {})
    assert child.exit_code() is None and not child.running()
    assert child.stop() is None
    with pytest.raises(RuntimeError, match="never was never started"):
        _ = child.pid
    failing = spawn(children, tmp_path, python("import sys; sys.exit(7)"))
    eventually(lambda: failing.exit_code() is not None)
    assert failing.exit_code() == 7
    assert failing.stop() == 7  # stopping a child that has exited only reports its code


def test_the_log_collects_every_start_and_its_tail(children: list[Child], tmp_path: Path) -> None:
    child = spawn(children, tmp_path, python("for n in range(20): print(n)"))
    eventually(lambda: child.exit_code() == 0)
    assert child.tail(3) == ["17", "18", "19"]
    first_offset = child.log_offset
    child.start()  # again, appended to the same log after a header line
    eventually(lambda: child.exit_code() == 0)
    text = child.log_path.read_text()
    assert text.count(" started ===\n") == 2
    assert child.log_offset > first_offset
    assert text[child.log_offset :].splitlines() == [str(n) for n in range(20)]
    assert Child("missing", [], tmp_path / "nowhere.log", {}).tail(5) == []


def test_environment_and_working_directory(children: list[Child], tmp_path: Path) -> None:
    code = "import os; print(os.environ['PROCS_TEST'], os.getcwd())"
    log = tmp_path / "env.log"
    child = Child("env", python(code), log, {"PROCS_TEST": "hello"}, cwd=tmp_path)
    children.append(child)
    child.start()
    eventually(lambda: child.exit_code() == 0)
    assert child.tail(1) == [f"hello {tmp_path}"]


def test_signals_reach_the_group_or_the_child_alone(children: list[Child], tmp_path: Path) -> None:
    # The child starts a grandchild in its own process group, prints its pid, and sleeps.
    parent = python(
        """
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(grandchild.pid, flush=True)
        time.sleep(60)
        """
    )
    child = spawn(children, tmp_path, parent)
    eventually(lambda: bool(child.tail(1)) and child.tail(1)[0].isdigit())
    grandchild = int(child.tail(1)[0])
    assert os.getpgid(grandchild) == child.pid  # its own group, led by the child

    child.send(signal.SIGKILL, group=False)
    eventually(lambda: child.exit_code() is not None)
    assert alive(grandchild)  # the child alone was signalled

    os.killpg(child.pid, signal.SIGKILL)  # the group outlives its leader: clean up
    eventually(lambda: not alive(grandchild))

    child.start()
    eventually(lambda: bool(child.tail(1)) and child.tail(1)[0].isdigit())
    grandchild = int(child.tail(1)[0])
    assert child.stop(timeout=5) == -signal.SIGTERM
    eventually(lambda: not alive(grandchild))  # stop() reached the whole group


@pytest.mark.skipif(sys.platform != "linux", reason="prctl(PR_SET_PDEATHSIG) is Linux only")
def test_a_child_dies_when_its_parent_dies(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    supervisor = python(
        f"""
        import time
        from pathlib import Path
        from daiban.run.procs import Child
        child = Child("sleeper", ["sleep", "60"], Path({str(tmp_path / "sleeper.log")!r}), {{}})
        child.start()
        Path({str(pid_file)!r}).write_text(str(child.pid))
        time.sleep(60)
        """
    )
    process = subprocess.Popen(supervisor, cwd=Path(__file__).resolve().parents[2])
    try:
        eventually(lambda: pid_file.exists() and pid_file.read_text() != "")
        orphan = int(pid_file.read_text())
        assert alive(orphan)
        process.kill()  # no handler runs: only the kernel can tell the child
        process.wait()
        eventually(lambda: not alive(orphan))
    finally:
        process.kill()
        process.wait()


# --- ports and binaries ------------------------------------------------------------------------


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    # Outside the kernel's range for outgoing connections, whose local end could take one.
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert not [port for port in ports if low <= port <= high]
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_installed_binaries_are_found_beside_the_interpreter_then_on_path() -> None:
    assert Path(TEMPORAL) == Path(sys.executable).with_name("temporal")
    assert Path(installed_binary("sh")).name == "sh"  # not in the venv: from PATH
    with pytest.raises(FileNotFoundError, match="no-such-binary-here"):
        installed_binary("no-such-binary-here")


# --- the dev server's command line -------------------------------------------------------------


def flags(argv: list[str]) -> set[tuple[str, str | None]]:
    """The options of a ``temporal server start-dev`` command line as (flag, value) pairs."""
    assert argv[:3] == [TEMPORAL, "server", "start-dev"]
    found: set[tuple[str, str | None]] = set()
    rest = argv[3:]
    while rest:
        flag, *rest = rest
        assert flag.startswith("--"), argv
        if rest and not rest[0].startswith("--"):
            found.add((flag, rest.pop(0)))
        else:
            found.add((flag, None))
    return found


BASE = ALWAYS | {("--db-filename", "/d/t.db"), ("--port", "7000")}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, BASE | {("--headless", None), MULTI_OPERATION}),
        ({"ui_port": 8000}, BASE | {("--ui-port", "8000"), MULTI_OPERATION}),
        (
            {"ui_port": 8000, "ui_codec_endpoint": "http://127.0.0.1:1/codec"},
            BASE
            | {
                ("--ui-port", "8000"),
                ("--ui-codec-endpoint", "http://127.0.0.1:1/codec"),
                MULTI_OPERATION,
            },
        ),
        (
            {"namespace": "other"},
            BASE | {("--headless", None), ("--namespace", "other"), MULTI_OPERATION},
        ),
        (
            {"http_port": 1, "metrics_port": 2},
            BASE
            | {
                ("--headless", None),
                ("--http-port", "1"),
                ("--metrics-port", "2"),
                MULTI_OPERATION,
            },
        ),
        ({"eager_activities": True}, BASE | {("--headless", None), MULTI_OPERATION, EAGER}),
        ({"multi_operation": False}, BASE | {("--headless", None)}),
    ],
    ids=["headless", "ui", "ui-codec", "namespace", "ports", "eager", "no-multi-operation"],
)
def test_dev_server_argv(options: dict[str, object], expected: set[object]) -> None:
    argv = dev_server_argv(Path("/d/t.db"), 7000, **options)  # type: ignore[arg-type]
    assert flags(argv) == expected
    assert argv[-2:] == ["--log-level", "warn"]


def test_a_codec_endpoint_needs_the_ui() -> None:
    with pytest.raises(ValueError, match="needs the UI"):
        dev_server_argv(Path("t.db"), 7000, ui_codec_endpoint="http://127.0.0.1:1/codec")


def test_each_caller_starts_the_dev_server_it_always_did(tmp_path: Path) -> None:
    """The flags each supervisor passed before they shared one function."""
    from bench.procs import temporal_argv
    from chaos.procs import System

    config = StackConfig(tmp_path, "sqlite://", namespace="ns", temporal_port=1, ui_port=2)
    stack = Stack(config, Settings(), Console())._temporal_argv()
    assert flags(stack) == ALWAYS | {
        ("--db-filename", str(tmp_path / "temporal.db")),
        ("--port", "1"),
        ("--ui-port", "2"),
        ("--ui-codec-endpoint", "http://127.0.0.1:8000/codec"),
        ("--namespace", "ns"),
        MULTI_OPERATION,
    }

    bench = flags(temporal_argv(tmp_path / "temporal.db", 3))
    # Free ports chosen by the bench itself.
    random_ports = {(f, v) for f, v in bench if f in ("--http-port", "--metrics-port")}
    assert len(random_ports) == 2
    assert bench - random_ports == ALWAYS | {
        ("--db-filename", str(tmp_path / "temporal.db")),
        ("--port", "3"),
        ("--headless", None),
        EAGER,
    }

    chaos = System(tmp_path)
    assert flags(chaos._temporal_argv()) == ALWAYS | {
        ("--db-filename", str(tmp_path / "temporal.db")),
        ("--port", str(chaos.ports.temporal)),
        ("--headless", None),
        ("--namespace", "default"),
        MULTI_OPERATION,
    }


@pytest.mark.parametrize("ui", [False, True], ids=["headless", "ui"])
async def test_the_dev_server_starts_with_these_flags(
    children: list[Child], tmp_path: Path, ui: bool
) -> None:
    port, ui_port, http_port, metrics_port = free_ports(4)
    argv = dev_server_argv(
        tmp_path / "temporal.db",
        port,
        ui_port=ui_port if ui else None,
        ui_codec_endpoint="http://127.0.0.1:1/codec" if ui else None,
        namespace="procs-test",
        http_port=http_port,
        metrics_port=metrics_port,
        eager_activities=True,
    )
    server = spawn(children, tmp_path, argv, name="temporal")
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while (reason := await temporal_not_ready(address, "procs-test")) is not None:
        assert server.running(), "\n".join(server.tail(20))
        assert time.monotonic() < deadline, reason
        await asyncio.sleep(0.2)
    if ui:
        with socket.create_connection(("127.0.0.1", ui_port), timeout=5):
            pass
    assert server.stop(timeout=15) in (0, -signal.SIGTERM)
    assert await temporal_not_ready(address, "procs-test") is not None
