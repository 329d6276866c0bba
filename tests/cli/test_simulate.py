"""``daiban simulate``: generated residents pass the API's checks, and a short run against a real
API reports counts that match the change of ``GET /v1/stats``."""

from __future__ import annotations

import json
import random
from datetime import date
from typing import Any

import httpx
from typer.testing import CliRunner

from daiban.cli.main import app
from daiban.cli.simulate import fake_resident, id_check_char, poisson
from daiban.domain.privacy import check_id_number, check_name, check_phone
from tests.cli.conftest import CITY, token


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
