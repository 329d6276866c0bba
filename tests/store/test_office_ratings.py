"""Ratings per office served (``daiban.store.office_ratings``) on SQLite and PostgreSQL, against the
rule worked out by hand over a varied set of ratings: tier scores, overall scores of the deciding
office, unconfirmed ratings and upheld appeals."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from daiban.domain.offices import demo_offices, demo_tree
from daiban.domain.scope import Principal
from daiban.store.db import load_offices, session_scope
from daiban.store.office_ratings import office_ratings
from models.contracts import Role
from models.db import RatingRow, RequestRow

CITY = "370285000"
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
CHANNELS = ("link", "sms_code", "agent_unconfirmed", "default", None)


def county() -> Principal:
    return Principal("sup-city", Role.SUPERVISOR, CITY, tier="city")


def _villages() -> list[tuple[str, str]]:
    """(village, township) of the seed county."""
    tree = demo_tree()
    return [(o.code, tree.township_of(o.code) or "") for o in demo_offices() if o.tier == "village"]


def _rated(n: int, rng: random.Random, villages: list[tuple[str, str]]) -> dict[str, Any]:
    village, township = rng.choice(villages)
    by_city = rng.random() < 0.5
    tiers = {t: rng.randint(1, 5) for t in ("village", "township") if rng.random() < 0.4}
    if by_city and rng.random() < 0.4:
        tiers["city"] = rng.randint(1, 5)
    channel = rng.choice(CHANNELS)
    return {
        "id": f"r{n:04d}",
        "village": village,
        "township": township,
        "deciding": CITY if by_city else township,
        "score": rng.randint(1, 5),
        "tiers": tiers,
        "channel": channel,
        "upheld": rng.random() < 0.1,
        "created": NOW - timedelta(days=rng.randint(0, 60)),
    }


def _store(engine: Engine, rated: list[dict[str, Any]]) -> None:
    with session_scope(engine) as session:
        for r in rated:
            session.add(
                RequestRow(
                    id=r["id"], item="dibao", village=r["village"], township=r["township"],
                    city=CITY, stage="completed", status="closed", responsible_office=r["village"],
                    rating_score=r["score"], rating_channel=r["channel"],
                    appeal_upheld=r["upheld"], agent="agent", created_at=r["created"],
                    updated_at=r["created"], version=1, state={},
                )
            )  # fmt: skip
            session.add(
                RatingRow(
                    request_id=r["id"], score=r["score"], office=r["deciding"],
                    township=r["township"], rated_at=r["created"], channel=r["channel"],
                    tiers=r["tiers"] or None, appeal="upheld" if r["upheld"] else "none",
                )
            )  # fmt: skip


def _expected(rated: list[dict[str, Any]], since: datetime) -> dict[tuple[str, str], list[int]]:
    """Per (tier, office): the scores counted, by the rule as the module states it."""
    scores: dict[tuple[str, str], list[int]] = {}
    for r in rated:
        if r["channel"] == "agent_unconfirmed" or r["upheld"] or r["created"] < since:
            continue
        offices = {"village": r["village"], "township": r["township"], "city": CITY}
        for tier, office in offices.items():
            score = r["tiers"].get(tier, r["score"] if office == r["deciding"] else None)
            if score is not None:
                scores.setdefault((tier, office), []).append(score)
    return scores


def test_each_office_is_counted_with_the_scores_residents_gave_it(engine: Engine) -> None:
    load_offices(engine, demo_offices())
    rng = random.Random(11)
    rated = [_rated(n, rng, _villages()) for n in range(300)]
    _store(engine, rated)
    since = NOW - timedelta(days=30)
    with Session(engine) as session:
        rows = office_ratings(session, county(), None, since, NOW + timedelta(days=1))
    expected = _expected(rated, since)
    assert {(row["tier"], row["office"]) for row in rows} == set(expected)
    assert [row["tier"] for row in rows] == sorted(
        (row["tier"] for row in rows), key=["city", "township", "village"].index
    )
    for row in rows:
        scores = expected[row["tier"], row["office"]]
        assert row["rated"] == len(scores)
        assert row["ratings"] == {str(n): scores.count(n) for n in range(1, 6)}
        bad = sum(1 for s in scores if s <= 2)
        assert row["bad"] == bad
        assert row["bad_rate"] == round(bad / len(scores), 4)
        assert row["satisfaction_rate"] == round(1 - bad / len(scores), 4)
        assert row["name"]  # the office's name, from the offices table


def test_a_township_rated_bad_under_a_good_overall_score_counts_bad(engine: Engine) -> None:
    load_offices(engine, demo_offices())
    village, township = _villages()[0]
    good_overall = {
        "id": "r1", "village": village, "township": township, "deciding": township,
        "score": 5, "tiers": {"township": 1}, "channel": "link", "upheld": False,
        "created": NOW,
    }  # fmt: skip
    _store(engine, [good_overall])
    with Session(engine) as session:
        rows = office_ratings(session, county())
        mine = office_ratings(session, county(), township)
        other = next(t for _, t in _villages() if t != township)
        assert office_ratings(session, county(), other) == []
        out_of_scope = Principal("sup-x", Role.SUPERVISOR, other, tier="township")
        assert office_ratings(session, out_of_scope) == []
    # The township: its own score, not the overall one; the village was not rated at all.
    assert [(r["tier"], r["office"], r["ratings"]["1"], r["bad"]) for r in rows] == [
        ("township", township, 1, 1)
    ]
    assert mine == rows
