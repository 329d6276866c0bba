"""``daiban simulate``: generated residents pass the API's checks, and a short run against a real
API reports counts that match the change of ``GET /v1/stats``."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from daiban.cli.county import SimulatedGateway
from daiban.cli.main import app
from daiban.cli.simulate import (
    CHANNEL_WEIGHTS,
    Mix,
    draw_rating,
    fake_resident,
    id_check_char,
    poisson,
)
from daiban.domain.privacy import check_id_number, check_name, check_phone
from daiban.store.db import make_engine
from models.db import LedgerRow, OutboxRow, RequestRow
from tests.cli.conftest import CITY, ServedApi, serving, token
from tests.pg import create_database, drop_database


def test_generated_residents_pass_the_checks_of_the_api() -> None:
    rng = random.Random(1)
    today = date(2026, 11, 27)
    residents = [fake_resident(rng, today) for _ in range(500)]
    for resident in residents:
        check_name(resident["name"])
        check_id_number(resident["id_number"], today)
        check_phone(resident["phone"])
    assert len({r["id_number"] for r in residents}) > 490
    born = [int(r["id_number"][6:10]) for r in residents]
    assert min(born) >= 1935 and max(born) <= 2008


def test_check_character_of_a_known_number() -> None:
    # GB 11643-1999's own example: 11010519491231002X.
    assert id_check_char("11010519491231002") == "X"


def test_ratings_mix_channels_and_tiers_as_residents_do() -> None:
    rng, mix = random.Random(5), Mix()
    ratings = [draw_rating(rng, mix, rng.choice(("city", "township"))) for _ in range(4000)]
    channels = Counter(r.channel for r in ratings)
    for channel, weight in CHANNEL_WEIGHTS.items():
        share = channels[channel] / len(ratings)
        assert abs(share - weight / sum(CHANNEL_WEIGHTS.values())) < 0.03, channels
    tiered = [r for r in ratings if r.tiers]
    assert 0.45 < len(tiered) / len(ratings) < 0.55
    assert any("city" in (r.tiers or {}) for r in tiered)
    for r in tiered:
        assert r.tiers is not None
        if r.score <= 2:  # a bad rating names the tier it blames
            assert min(r.tiers.values()) <= 2
    # Mostly the township or the city center; the village proxy room now and then.
    blamed = Counter(
        min(r.tiers or {}, key=(r.tiers or {}).__getitem__) for r in tiered if r.score <= 2
    )
    assert blamed["village"] and blamed["village"] < blamed["township"] + blamed["city"], blamed
    township = [r for r in tiered if "city" not in (r.tiers or {})]
    assert township and all(set(r.tiers or {}) == {"village", "township"} for r in township)


def test_arrivals_average_the_rate() -> None:
    rng = random.Random(2)
    draws = [poisson(rng, 0.3) for _ in range(20_000)]
    assert abs(sum(draws) / len(draws) - 0.3) < 0.02


def stats_totals(api_url: str) -> dict[str, int]:
    bearer = token("supervisor", CITY)
    response = httpx.get(f"{api_url}/v1/stats", headers={"Authorization": f"Bearer {bearer}"})
    response.raise_for_status()
    offices: list[dict[str, Any]] = response.json()["offices"]
    return {
        "total": sum(o["total"] for o in offices),
        "completed": sum(o["completed"] for o in offices),
        "bad": sum(o["ratings"].get("1", 0) + o["ratings"].get("2", 0) for o in offices),
    }


def stats_rungs(api_url: str) -> dict[str, int]:
    """Every number of the city's /v1/stats, summed over the townships (ratings as ``rated``)."""
    bearer = token("supervisor", CITY)
    response = httpx.get(f"{api_url}/v1/stats", headers={"Authorization": f"Bearer {bearer}"})
    response.raise_for_status()
    totals: Counter[str] = Counter()
    for office in response.json()["offices"]:
        for name in ("total", "completed", "reminder", "yellow", "red"):
            totals[name] += office[name]
        totals["rated"] += sum(office["ratings"].values())
    return {
        name: totals[name] for name in ("total", "completed", "reminder", "yellow", "red", "rated")
    }


def test_a_short_simulation_matches_the_api_stats(runner: CliRunner, api_url: str) -> None:
    before = stats_totals(api_url)
    args = ["simulate", "--api", api_url, "--villages", "5", "--days", "1", "--rate", "1.5"]
    args += ["--seed", "11", "--speed", "40", "--late-fraction", "0.2", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stdout[-2000:], result.stderr[-2000:])
    report = json.loads(result.stdout)
    counts = report["counts"]
    after = stats_totals(api_url)
    assert counts["submitted"] >= 5 and counts["error"] == 0, report["errors"]
    assert counts["submitted"] == after["total"] - before["total"]
    assert counts["completed"] == after["completed"] - before["completed"]
    assert counts["bad_ratings"] == after["bad"] - before["bad"]
    assert report["stats_match"] is True
    assert sum(row["submitted"] for row in report["by_item"].values()) == counts["submitted"]
    closed = counts["completed"] + counts["refused"] + counts["withdrawn"] + counts["lapsed"]
    assert closed + counts["in_progress"] == counts["submitted"]
    assert len({r["village"] for r in report["requests"]}) <= 5


# --- at compressed time ------------------------------------------------------------------------


def ledger_rungs(database_url: str, request_ids: list[str]) -> Counter[str]:
    """The escalation rows of these requests in the ledger, by level, read from the database."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            query = select(LedgerRow.level).where(
                col(LedgerRow.request_id).in_(request_ids), LedgerRow.kind == "escalation"
            )
            return Counter(str(level) for level in session.exec(query))
    finally:
        engine.dispose()


def rectification_notes(database_url: str, request_ids: list[str]) -> list[tuple[str, str]]:
    """The callbacks and rectifications of these requests in the ledger: (action, note)."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            query = select(LedgerRow.action, LedgerRow.note).where(
                col(LedgerRow.request_id).in_(request_ids), LedgerRow.kind == "rectification"
            )
            return [(str(action), str(note)) for action, note in session.exec(query)]
    finally:
        engine.dispose()


def open_rows(database_url: str, request_ids: list[str]) -> list[RequestRow]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            query = select(RequestRow).where(
                col(RequestRow.id).in_(request_ids), RequestRow.status == "open"
            )
            return list(session.exec(query))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def quiet_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServedApi]:
    """A served API of its own: no other test's traffic moves its statistics meanwhile."""
    if request.param == "sqlite":
        with serving(f"sqlite:///{tmp_path / 'daiban.db'}") as served:
            yield served
        return
    url = create_database()
    try:
        with serving(url) as served:
            yield served
    finally:
        drop_database(url)


def test_a_compressed_run_fires_the_ladder_and_matches_the_stats(
    runner: CliRunner, quiet_stack: ServedApi
) -> None:
    """Real workflows on a time-skipping server, writing to the served API's database: the
    reminders and cards fire, they are in the ledger, and /v1/stats counts what the run did."""
    api_url, database_url = quiet_stack.base_url, quiet_stack.database_url
    before = stats_rungs(api_url)
    args = ["simulate", "--compressed", "--api", api_url, "--url", database_url]
    args += ["--villages", "8", "--days", "4", "--rate", "0.8", "--seed", "7"]
    args += ["--slow-townships", "0.5", "--late-fraction", "0.2", "--json"]
    result = runner.invoke(app, args)
    assert result.stdout.startswith("{"), result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert result.exit_code == 0, (json.dumps(report["stats_check"]), report["errors"])
    after = stats_rungs(api_url)
    assert report["errors"] == []
    assert report["stats_match"] is True
    # The ladder climbed, and every rung the workflows fired is a row of the ledger.
    rungs = report["rungs"]
    assert rungs["reminder"] > 0 and rungs["yellow"] > 0 and rungs["red"] > 0, rungs
    ids = [r["id"] for r in report["requests"] if r["id"]]
    assert ledger_rungs(database_url, ids) == Counter(rungs)
    assert {f"escalation {level}": n for level, n in rungs.items()} == {
        kind: n for kind, n in report["ledger"].items() if kind.startswith("escalation")
    }
    # The statistics moved by exactly what the run did (the API read them, not the report).
    counts = report["counts"]
    assert after["total"] - before["total"] == counts["submitted"] == len(ids)
    assert after["completed"] - before["completed"] == counts["completed"]
    assert after["reminder"] - before["reminder"] == rungs["reminder"]
    assert after["yellow"] - before["yellow"] == rungs["yellow"]
    assert after["red"] - before["red"] == rungs["red"] + rungs.get("statutory", 0)
    assert after["rated"] - before["rated"] > 0
    # Every rating recorded how it was given (the unconfirmed ones are in stats_match above).
    channels = {r["rating"] for r in report["requests"] if r["rating"]}
    assert channels and channels <= {"link", "sms_code", "agent_unconfirmed", "default"}
    # Bad ratings were called back (some residents reached only at a second call), and those the
    # run had time to settle were settled with an outcome.
    steps = rectification_notes(database_url, ids)
    calls = [note.split(": ")[0] for action, note in steps if action == "callback"]
    assert calls and set(calls) <= {"reached", "not reached"}, steps
    settled = [note for action, note in steps if action == "rectify"]
    assert all(note.startswith(("fixed: ", "explained: ", "scheduled by ")) for note in settled)
    # Weeks went by in the run, and the county it leaves has requests in flight on the board.
    start, end = (datetime.fromisoformat(moment) for moment in report["period"])
    assert end - start >= timedelta(days=5)
    still_open = open_rows(database_url, ids)
    assert counts["in_progress"] == len(still_open) > 0
    assert any(row.overdue != "none" for row in still_open)
    # A simulated request reads through the API (from the read model: its workflow has ended).
    some = still_open[0].id
    response = httpx.get(
        f"{api_url}/v1/requests/{some}",
        headers={"Authorization": f"Bearer {token('supervisor', CITY)}"},
    )
    assert response.status_code == 200 and response.json()["id"] == some


class RecordingGateway:
    """The SMS gateway outside the system: it only notes what it was given."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, row: OutboxRow) -> None:
        self.sent.append(row.request_id)


def test_made_up_residents_are_never_notified_but_real_ones_are() -> None:
    real = RecordingGateway()
    gateway = SimulatedGateway({"sim-1", "sim-2"}.__contains__, real)
    for request_id in ("sim-1", "real-1", "sim-2", "real-2"):
        row = OutboxRow(
            request_id=request_id,
            event_key="k",
            recipient_office="x",
            recipient_role="agent",
            message="m",
        )
        gateway.send(row)
    assert real.sent == ["real-1", "real-2"]
    assert gateway.kept == 2
