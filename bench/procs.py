"""The processes a bench run starts (the Temporal dev server, workers and the API), and the CPU
and memory they use.

The children are ``daiban.run.procs.Child``: each in its own process group (a Ctrl-C in the terminal
reaches only the bench, which then stops the children in order) and, on Linux, SIGTERM if the bench
itself dies, so no orphan keeps holding a port. ``Children.stop_all`` is called from a ``finally``
in the entry point.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from daiban.run.procs import Child, dev_server_argv, free_port

# Lines of a child's log shown when it fails.
TAIL_LINES = 15


_TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the fields after the name) of every process, from /proc/<pid>/stat."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces (and parentheses).
        name, _, rest = stat.partition("(")[2].rpartition(")")
        yield int(entry.name), name, rest.split()


def _cpu_ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for child, _, fields in _processes():
        parents.setdefault(int(fields[1]), []).append(child)  # field 4: ppid
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(parents.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (/proc/<pid>/stat)."""
    tree = set(_tree(pid))
    return sum(_cpu_ticks(f) for p, _, f in _processes() if p in tree) / _TICKS


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL server process on the machine (the bench's load is the only
    load it has)."""
    return sum(_cpu_ticks(f) for _, name, f in _processes() if name.startswith("postgres")) / _TICKS


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants, in MiB (VmRSS of /proc/<pid>/status)."""
    total_kib = 0
    for current in _tree(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
                    break
        except OSError:
            continue
    return round(total_kib / 1024, 1)


@dataclass
class Children:
    """Every child of the run, stopped in reverse start order."""

    log_dir: Path
    env: dict[str, str]
    started: list[Child] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        argv: list[str],
        extra_env: dict[str, str] | None = None,
        *,
        niceness: int = 0,
    ) -> Child:
        env = {**self.env, **(extra_env or {})}
        child = Child(name, argv, self.log_dir / f"{name}.log", env, niceness=niceness)
        self.started.append(child)
        child.start()
        return child

    def check(self) -> None:
        """Raise if a child died: a benchmark against a dead process measures nothing."""
        for child in self.started:
            code = child.exit_code()
            if code is not None:
                tail = "\n".join(child.tail(TAIL_LINES))
                raise RuntimeError(
                    f"{child.name} exited with code {code}; last lines of {child.log_path}:\n{tail}"
                )

    def stop(self, child: Child, timeout: float = 15.0) -> None:
        child.stop(timeout)
        if child in self.started:
            self.started.remove(child)

    def stop_all(self) -> None:
        for child in reversed(self.started):
            child.stop()
        self.started.clear()


def temporal_argv(db_file: Path, port: int) -> list[str]:
    """The dev server of a bench run: headless, eager activities on; update-with-start is left to
    the server's default, as the published figures were measured."""
    return dev_server_argv(
        db_file,
        port,
        http_port=free_port(),
        metrics_port=free_port(),
        eager_activities=True,
        multi_operation=False,
    )


def wait_for_port(host: str, port: int, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running():
            tail = "\n".join(child.tail(TAIL_LINES))
            raise RuntimeError(f"{child.name} exited while starting:\n{tail}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not listen on {host}:{port} within {timeout:.0f} s")
