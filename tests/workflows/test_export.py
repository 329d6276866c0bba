"""End to end on the time-skipping server: a completed, rated request reaches the province's
rating system as its two records, and a default rating as one marked so; none names the
resident."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from activities.export import JsonLinesFile
from daiban.core.settings import Settings
from daiban.store.db import session_scope
from models.db import Office
from tests.workflows.conftest import AGENT, CITY, RESIDENT, TOWNSHIP, VILLAGE, Harness, cst
from worker import build_worker


@pytest.fixture
async def exporting(
    env: WorkflowEnvironment, engine: Engine, tmp_path: Path
) -> AsyncIterator[tuple[Harness, Path]]:
    """The harness, with a worker that exports to a JSON-lines file."""
    with session_scope(engine) as session:
        session.add(Office(code=VILLAGE, name="阎家疃村", tier="village", parent=TOWNSHIP))
        session.add(Office(code=TOWNSHIP, name="姜山镇", tier="township", parent=CITY))
        session.add(Office(code=CITY, name="莱西市行政服务中心", tier="city"))
    settings = Settings(database_url=str(engine.url), export_relay_seconds=0.2)
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "export" / "ratings.jsonl"
    worker = build_worker(
        env.client, engine, settings, task_queue=task_queue, export=JsonLinesFile(path)
    )
    async with worker:
        yield Harness(env=env, engine=engine, settings=settings, task_queue=task_queue), path


async def exported(path: Path, count: int) -> list[dict[str, Any]]:
    """The file's records once it holds ``count`` (the exporter runs beside the workflow)."""
    for _ in range(200):
        if path.exists():
            records = [json.loads(line) for line in path.read_bytes().splitlines()]
            if len(records) >= count:
                return records
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never held {count} records")


def assert_no_resident(records: list[dict[str, Any]]) -> None:
    text = json.dumps(records, ensure_ascii=False)
    for personal in (RESIDENT.name, RESIDENT.id_number, RESIDENT.phone, "很好"):
        assert personal not in text


async def test_a_completed_rated_request_is_exported_as_two_records(
    exporting: tuple[Harness, Path],
) -> None:
    harness, path = exporting
    number = "370285-20300304-0042"
    rid = await harness.submit("linshi-jiuzhu", number=number)
    await harness.drive(rid)
    await harness.act(
        rid, "rate", AGENT, score=5, comment="很好", tiers={"village": 5, "township": 4},
        rating_channel="link", rating_proof="link:exported",
    )  # fmt: skip
    request, rating = await exported(path, 2)
    assert (request["key"], rating["key"]) == (f"{number}:request:1", f"{number}:rating:1")
    assert request["item"] == {"code": "linshi-jiuzhu", "name": "临时救助"}
    assert request["offices"]["handling"] == {"code": TOWNSHIP, "name": "姜山镇"}
    assert request["offices"]["village"] == {"code": VILLAGE, "name": "阎家疃村"}
    assert (request["stage"], request["decision"], request["on_time"]) == (
        "completed", "approved", True,
    )  # fmt: skip
    final = await harness.state(rid)
    instants = {k: request[k] for k in ("submitted_at", "accepted_at", "decided_at", "closed_at")}
    assert {k: datetime.fromisoformat(v) for k, v in instants.items()} == {
        "submitted_at": final.created_at, "accepted_at": final.accepted_at,
        "decided_at": final.decided_at, "closed_at": final.updated_at,
    }  # fmt: skip
    assert all(v.endswith("+00:00") for v in instants.values())  # UTC
    assert request["working_days"] == 0  # accepted and decided the same day
    assert (rating["score"], rating["is_default"]) == (5, False)
    assert (rating["channel"], rating["tiers"]) == ("link", {"village": 5, "township": 4})
    assert rating["rated_office"] == {"code": TOWNSHIP, "name": "姜山镇"}
    assert_no_resident([request, rating])
    await harness.handles[rid].result()
    await asyncio.sleep(0.5)  # later rounds add nothing
    assert len(await exported(path, 2)) == 2


async def test_a_default_rating_is_exported_as_such(exporting: tuple[Harness, Path]) -> None:
    harness, path = exporting
    rid = await harness.submit("linshi-jiuzhu", number="370285-20300304-0043")
    await harness.drive(rid)
    await harness.skip_to(cst("2030-03-11 17:00"))  # the rating window passes
    await harness.eventually(rid, lambda s: s.stage == "completed")
    request, rating = await exported(path, 2)
    assert request["stage"] == "completed"
    assert (rating["score"], rating["is_default"], rating["channel"]) == (3, True, "default")
    assert_no_resident([request, rating])
