"""Where a running ``daiban run`` can be reached, recorded in its var directory for other terminals.

``daiban run`` writes ``stack.json`` (read by the ``daiban`` commands, which then need no ``--api``
or Temporal address) and ``env.sh`` (for a shell: ``source var/env.sh`` sets ``DAIBAN_API_URL``,
the Temporal CLI's ``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE``, and the demo tokens) when it is
ready, and removes both when it stops. A record whose process is gone (the stack was killed) counts
as no record.

``recompute-pending`` marks a calendar change made while the stack was stopped: the next start
tells the open requests to compute their deadlines again, then removes the mark.

Only the standard library is imported here: every ``daiban`` command reads this file, and the
command line must start fast.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_API_URL = "http://127.0.0.1:8000"
VAR_DIR_VARIABLE = "DAIBAN_VAR_DIR"
DEFAULT_VAR_DIR = Path("var")
RECORD = "stack.json"
SHELL_FILE = "env.sh"
RECOMPUTE_PENDING = "recompute-pending"


@dataclass(frozen=True)
class StackAddresses:
    api_url: str
    temporal_address: str
    namespace: str
    ui_url: str | None
    database_url: str
    pid: int


def var_dir() -> Path:
    """The var directory of the local stack: ``DAIBAN_VAR_DIR``, else ``var`` here."""
    return Path(os.environ.get(VAR_DIR_VARIABLE) or DEFAULT_VAR_DIR)


def record(directory: Path, addresses: StackAddresses, tokens: dict[str, str]) -> None:
    """Write ``stack.json`` and ``env.sh`` (readable by the owner only: it holds tokens)."""
    directory.mkdir(parents=True, exist_ok=True)
    _write_private(directory / RECORD, json.dumps(asdict(addresses), indent=2) + "\n")
    exports = {
        "DAIBAN_API_URL": addresses.api_url,
        "TEMPORAL_ADDRESS": addresses.temporal_address,
        "TEMPORAL_NAMESPACE": addresses.namespace,
        **tokens,
    }
    lines = [f"# written by `daiban run` (pid {addresses.pid}); removed when it stops"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    _write_private(directory / SHELL_FILE, "\n".join(lines) + "\n")


def forget(directory: Path) -> None:
    for name in (RECORD, SHELL_FILE):
        (directory / name).unlink(missing_ok=True)


def running(directory: Path | None = None) -> StackAddresses | None:
    """The addresses of the stack recorded in ``directory`` if its process is alive, else None."""
    path = (directory or var_dir()) / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        addresses = StackAddresses(**data)
    except (OSError, ValueError, TypeError):
        return None
    return addresses if _alive(addresses.pid) else None


def mark_recompute_pending(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RECOMPUTE_PENDING).touch()


def recompute_pending(directory: Path) -> bool:
    return (directory / RECOMPUTE_PENDING).exists()


def clear_recompute_pending(directory: Path) -> None:
    (directory / RECOMPUTE_PENDING).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def _write_private(path: Path, text: str) -> None:
    # Written beside and renamed, so that a reader never sees half a file.
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    partial.replace(path)
