"""A process that cannot start says why in one line (exit 2), never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daiban.store.db import upgrade


def start_worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DAIBAN_LOG_LEVEL": "WARNING", **env}
    return subprocess.run(
        [sys.executable, "-m", "worker"],
        cwd=Path(__file__).parent.parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DAIBAN_DATABASE_URL": "postgresql://127.0.0.1:1/nope"}, "is unreachable"),
        ({"DAIBAN_CODEC_KEYS": "k1:c2hvcnQ="}, "must be 16, 24 or 32 bytes"),
        ({"DAIBAN_API_PORT": "eighty"}, "DAIBAN_API_PORT"),
        ({"DAIBAN_YELLOW_FRACTION": "1.5"}, "DAIBAN_YELLOW_FRACTION"),
    ],
    ids=["database", "codec-keys", "settings", "threshold"],
)
def test_worker_start_errors_are_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = start_worker(tmp_path, **env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("worker:")]
    assert len(lines) == 1 and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_unmigrated_database_and_unreachable_temporal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = start_worker(tmp_path, DAIBAN_DATABASE_URL=url)
    assert result.returncode == 2 and "run `daiban db upgrade`" in result.stderr
    upgrade(url)
    result = start_worker(tmp_path, DAIBAN_DATABASE_URL=url, DAIBAN_TEMPORAL_ADDRESS="127.0.0.1:1")
    assert result.returncode == 2 and "Temporal at 127.0.0.1:1 is unreachable" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["serve"], ["run", "--var-dir", "VAR"]])
def test_a_bad_catalog_stops_the_api_and_the_stack_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text('{"version": 1, "items": [{"code": "dibao", "name": ""}]}')
    argv = [str(Path(sys.executable).parent / "daiban")] + [
        str(tmp_path / "var") if part == "VAR" else part for part in command
    ]
    result = subprocess.run(
        argv,
        env={**os.environ, "DAIBAN_CATALOG": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot start: catalog" in lines[0] and "'dibao'" in lines[0]
    assert not (tmp_path / "var" / "temporal.db").exists()  # nothing was started


def test_a_missing_notice_font_stops_the_api_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "NotoSerifCJK-Regular.ttc"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "daiban"), "serve"],
        env={**os.environ, "DAIBAN_NOTICE_FONT": str(missing)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot start: notice font" in lines[0] and str(missing) in lines[0]
    assert "Traceback" not in result.stderr
