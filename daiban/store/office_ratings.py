"""The residents' ratings per office that served them (好差评 "谁办理、谁负责"): each village proxy
room, township center and city center, with the scores residents gave that office.

A resident rates the service as a whole and may rate each tier that handled the request. An
office's score on a request is its tier's score where the resident gave one; otherwise the
overall score counts for the office that decided the request (the office a bad overall rating
goes to), and for no other. So a township rated bad under a good overall score counts bad for
that township, and a village proxy room is rated only where the resident rated it.

The ratings counted are those of the per-township statistics (``daiban.store.rollup``): the
resident's own act and defaults, not the agent's unconfirmed word, and none whose appeal was
upheld. Requests are those created in [from, to), in the caller's scope (and a township's, or a
community service center's villages', when given). Read from ``ratings``
joined to ``requests`` (the rollup does not know tiers): a month's figures take about 60 ms at a
million requests, a year's about a second (BENCHMARKS.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from daiban.domain.scope import Principal
from daiban.store import readmodel, rollup
from daiban.store.rollup import BAD_SCORE
from models.contracts import RATED_TIERS
from models.db import Office, RatingRow, RequestRow


def office_score(rated: Any, tier: str) -> ColumnElement[Any]:
    """The score of the ``tier`` office on one request of ``rated`` (the columns of the rated
    requests): its tier score, else the overall score when that office decided the request, else
    NULL (not rated)."""
    office = rated.c[tier]
    given = rated.c.tiers[tier].as_integer()
    return func.coalesce(given, case((rated.c.office == office, rated.c.score), else_=None))


def office_ratings(
    session: Session,
    principal: Principal,
    township: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    community: str | None = None,
) -> list[dict[str, Any]]:
    """Per office rated, city centers first, then townships, then villages (each by code):
    ``office``, ``name``, ``tier``, ``rated``, ``ratings`` (counts of "1".."5"), ``bad``,
    ``satisfaction_rate`` (3–5 over rated) and ``bad_rate`` (1–2 over rated).

    One statement: the rated requests are joined to their ratings once (a common table
    expression), and each tier's offices are counted from them."""
    r = RequestRow
    query = (
        sa_select(col(r.village), col(r.township), col(r.city), col(RatingRow.tiers),
               col(RatingRow.office), col(RatingRow.score))
        .join(RatingRow, col(RatingRow.request_id) == col(r.id))
        .where(
            *readmodel.stats_requests(principal, township, created_from, created_to, community),
            rollup.counted_rating(r),
            col(r.appeal_upheld).is_not(True),
        )
    )  # fmt: skip
    if created_from is not None:
        # Every rating is given after its request was created: the ratings given since the start
        # hold all those asked for, and their index reads only them (migration 0013).
        query = query.where(col(RatingRow.rated_at) >= created_from)
    rated = query.cte("rated")
    per_tier = []
    for tier in RATED_TIERS:
        office, score = rated.c[tier], office_score(rated, tier)
        per_tier.append(
            sa_select(literal(tier), office, score, func.count())
            .where(score.is_not(None))
            .group_by(office, score)
        )
    scores: dict[tuple[str, str], dict[int, int]] = {}
    for tier, code, given, n in session.execute(union_all(*per_tier)).all():
        scores.setdefault((tier, code), {})[int(given)] = int(n)
    codes = sorted({code for _, code in scores})
    names: dict[str, str] = {}
    if codes:
        offices = select(Office.code, Office.name).where(col(Office.code).in_(codes))
        names = dict(session.exec(offices).all())
    order = {tier: n for n, tier in enumerate(reversed(RATED_TIERS))}
    return [
        _row(tier, code, names.get(code), scores[tier, code])
        for tier, code in sorted(scores, key=lambda key: (order[key[0]], key[1]))
    ]


def _row(tier: str, office: str, name: str | None, counts: dict[int, int]) -> dict[str, Any]:
    ratings = {str(n): counts.get(n, 0) for n in range(1, 6)}
    rated = sum(ratings.values())
    bad = sum(counts.get(n, 0) for n in range(1, BAD_SCORE + 1))
    return {
        "office": office,
        "name": name,
        "tier": tier,
        "rated": rated,
        "ratings": ratings,
        "bad": bad,
        "satisfaction_rate": round((rated - bad) / rated, 4) if rated else None,
        "bad_rate": round(bad / rated, 4) if rated else None,
    }
