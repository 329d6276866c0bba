"""``daiban db`` and ``daiban calendar`` through typer's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from daiban.cli.main import app
from daiban.core.codec import new_key
from daiban.core.sealed import Sealer
from daiban.core.settings import get_settings
from daiban.store import residents
from daiban.store.db import head_revision, make_engine, session_scope
from models.db import RequestRow
from tests.store.rollup_rows import INSTANTS, expected, request, stored

UNREACHABLE = "postgresql://daiban:s3cret@127.0.0.1:1/nope"

GOOD_2027 = {
    "holidays": ["2027-01-01", "2027-02-06", "2027-02-07", "2027-02-08"],
    "workdays": ["2027-02-14", "2027-02-20"],
}


CHANGES = {"add", "remove", "load-year"}


def run(runner: CliRunner, *args: str) -> Result:
    # Telling running requests needs Temporal, covered in test_calendar_changes_reach_requests.
    notify = (
        ["--no-notify"] if args[:1] == ("calendar",) and args[1:2] and args[1] in CHANGES else []
    )
    return runner.invoke(app, [*args, *notify])


def run_with(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str
) -> Result:
    """``run`` with settings read afresh from these environment variables."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return run(runner, *args)
    finally:
        get_settings.cache_clear()


def assert_one_line_error(result: Result, code: int | None = None) -> None:
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def overrides_json(runner: CliRunner, url: str, *extra: str) -> dict[str, list[dict[str, str]]]:
    result = run(runner, "calendar", "list", "--json", "--url", url, *extra)
    assert result.exit_code == 0, result.stderr
    payload: dict[str, list[dict[str, str]]] = json.loads(result.stdout)
    return payload


@pytest.fixture
def url(runner: CliRunner, db_url: str) -> str:
    result = run(runner, "db", "upgrade", "--url", db_url)
    assert result.exit_code == 0, result.stderr
    assert f"at revision {head_revision()} (head)" in result.stdout
    return db_url


def test_db_upgrade_twice(runner: CliRunner, url: str) -> None:
    result = run(runner, "db", "upgrade", "--url", url)
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def settings_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DAIBAN_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_db_upgrade_defaults_to_the_settings(runner: CliRunner, settings_url: str) -> None:
    result = run(runner, "db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert settings_url in result.stdout


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_db_rebuild_stats(
    runner: CliRunner, url: str, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:  # a bulk load: the rollup knows nothing of it
            session.add_all(
                request(f"b{n}", 1, created_at=at, rating_score=n % 5 + 1)
                for n, at in enumerate(INSTANTS)
            )
        env = {"DAIBAN_TIMEZONE": zone}
        result = run_with(runner, monkeypatch, env, "db", "rebuild-stats", "--url", url)
        assert result.exit_code == 0, result.stderr
        with session_scope(engine) as session:
            rows = session.exec(select(RequestRow)).all()
            rebuilt = stored(session)
        assert rebuilt == expected(rows, ZoneInfo(zone)) and len(rebuilt) >= 4
        days = len({day for day, _, _ in rebuilt})
        assert f"statistics rebuilt: {len(INSTANTS)} requests in {days} rows" in result.stdout
    finally:
        engine.dispose()


def test_db_rebuild_stats_needs_a_migrated_database(runner: CliRunner, db_url: str) -> None:
    assert_one_line_error(run(runner, "db", "rebuild-stats", "--url", db_url), 1)


def test_calendar_add_list_remove(runner: CliRunner, url: str) -> None:
    for day, kind in (("2027-01-01", "holiday"), ("2027-02-07", "workday")):
        result = run(
            runner, "calendar", "add", day, "--kind", kind, "--note", "国办发", "--url", url
        )
        assert result.exit_code == 0, result.stderr
    listed = overrides_json(runner, url)
    assert [(o["day"], o["kind"], o["note"]) for o in listed["overrides"]] == [
        ("2027-01-01", "holiday", "国办发"),
        ("2027-02-07", "workday", "国办发"),
    ]
    assert listed["years"] == []
    assert overrides_json(runner, url, "--year", "2026")["overrides"] == []

    table = run(runner, "calendar", "list", "--url", url)
    assert table.exit_code == 0 and "2027-02-07" in table.stdout and "workday" in table.stdout

    removed = run(runner, "calendar", "remove", "2027-02-07", "--url", url)
    assert removed.exit_code == 0, removed.stderr
    assert [o["day"] for o in overrides_json(runner, url)["overrides"]] == ["2027-01-01"]
    assert_one_line_error(run(runner, "calendar", "remove", "2027-02-07", "--url", url), 1)


@pytest.mark.parametrize("bad", ["2027-02-30", "20270101", "tomorrow"])
def test_calendar_add_refuses_a_bad_date(runner: CliRunner, url: str, bad: str) -> None:
    result = run(runner, "calendar", "add", bad, "--kind", "holiday", "--url", url)
    assert_one_line_error(result, 2)
    assert overrides_json(runner, url)["overrides"] == []


def test_calendar_add_refuses_a_bad_kind(runner: CliRunner, url: str) -> None:
    result = run(runner, "calendar", "add", "2027-01-01", "--kind", "weekend", "--url", url)
    assert_one_line_error(result, 2)


def test_load_year(runner: CliRunner, url: str, tmp_path: Path) -> None:
    run(runner, "calendar", "add", "2027-03-03", "--kind", "holiday", "--url", url)  # replaced
    run(runner, "calendar", "add", "2028-01-01", "--kind", "holiday", "--url", url)  # kept
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(GOOD_2027), encoding="utf-8")
    result = run(runner, "calendar", "load-year", "2027", str(path), "--url", url)
    assert result.exit_code == 0, result.stderr
    assert "4 holidays and 2 workdays" in result.stdout

    listed = overrides_json(runner, url)
    days = {o["day"]: o["kind"] for o in listed["overrides"]}
    assert days == {
        **dict.fromkeys(GOOD_2027["holidays"], "holiday"),
        **dict.fromkeys(GOOD_2027["workdays"], "workday"),
        "2028-01-01": "holiday",
    }
    assert [(y["year"], y["note"]) for y in listed["years"]] == [(2027, "loaded from 2027.json")]

    again = run(runner, "calendar", "load-year", "2027", str(path), "--url", url)
    assert again.exit_code == 0, again.stderr
    assert len(overrides_json(runner, url)["overrides"]) == 7


BAD_FILES = {
    "not-json": "{holidays: nope",
    "not-an-object": json.dumps(["2027-01-01"]),
    "bad-date": json.dumps({"holidays": ["2027-01-01", "2027-02-29"], "workdays": []}),
    "other-year": json.dumps({"holidays": ["2026-12-31"], "workdays": []}),
    "twice": json.dumps({"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}),
    "unknown-key": json.dumps({"holidays": [], "workday": ["2027-02-14"]}),
    "not-a-list": json.dumps({"holidays": "2027-01-01"}),
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_load_year_with_a_bad_file_writes_nothing(
    runner: CliRunner, url: str, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "2027.json"
    path.write_text(content, encoding="utf-8")
    result = run(runner, "calendar", "load-year", "2027", str(path), "--url", url)
    assert_one_line_error(result, 2)
    assert overrides_json(runner, url) == {"years": [], "overrides": []}


def test_load_year_with_a_missing_file(runner: CliRunner, url: str, tmp_path: Path) -> None:
    result = run(runner, "calendar", "load-year", "2027", str(tmp_path / "nope.json"), "--url", url)
    assert_one_line_error(result, 2)


@pytest.mark.parametrize(
    "args",
    [
        ["db", "upgrade"],
        ["calendar", "list"],
        ["calendar", "add", "2027-01-01", "--kind", "holiday"],
        ["calendar", "remove", "2027-01-01"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_unreachable_database_is_one_line(runner: CliRunner, args: list[str]) -> None:
    result = run(runner, *args, "--url", UNREACHABLE)
    assert_one_line_error(result, 1)
    assert "127.0.0.1:1/nope is unreachable: connection refused" in result.stderr
    assert "s3cret" not in result.stderr


def test_unmigrated_database_is_one_line(runner: CliRunner, db_url: str) -> None:
    result = run(runner, "calendar", "list", "--url", db_url)
    assert_one_line_error(result, 1)
    assert "daiban db upgrade" in result.stderr


def test_missing_sqlite_file_is_one_line_and_left_missing(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "typo" / "daiban.db"
    result = run(runner, "calendar", "list", "--url", f"sqlite:///{path}")
    assert_one_line_error(result, 1)
    assert "does not exist: run `daiban db upgrade`" in result.stderr
    assert not path.parent.exists()


def test_calendar_change_without_temporal_is_saved_and_says_so(
    runner: CliRunner, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAIBAN_TEMPORAL_ADDRESS", "127.0.0.1:1")
    get_settings.cache_clear()
    result = runner.invoke(
        app, ["calendar", "add", "2027-10-08", "--kind", "holiday", "--url", url]
    )
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert "the calendar is saved, but running requests were not told" in result.stderr
    assert "daiban calendar recompute" in result.stderr
    assert [o["day"] for o in overrides_json(runner, url)["overrides"]] == ["2027-10-08"]


def test_db_reseal_seals_rows_in_the_clear_under_the_newest_key(
    runner: CliRunner, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear = {"name": "甄鑫淼", "id_number": "370285194802150024", "phone": "13805321234"}
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:  # rows written before residents were sealed
            session.add_all(
                request(f"s{n}", 1, state={"id": f"s{n}", "resident": clear}) for n in range(3)
            )
        spec = f"k7:{new_key()}"
        env = {"DAIBAN_CODEC_KEYS": spec}
        result = run_with(runner, monkeypatch, env, "db", "reseal", "--url", url)
        assert result.exit_code == 0, result.stderr
        assert "residents sealed under key k7: 3 rows rewritten" in result.stdout
        with session_scope(engine) as session:
            states = [r.state for r in session.exec(select(RequestRow)).all()]
        assert all("甄鑫淼" not in str(state) for state in states)
        sealer = Sealer.from_spec(spec)
        assert [residents.opened(s, sealer)["resident"] for s in states] == [clear] * 3
    finally:
        engine.dispose()
