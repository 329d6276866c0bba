"""The commands that talk to the API, against a real one (dev server, worker, uvicorn)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from daiban.cli.main import app
from daiban.cli.text import cells
from daiban.core.sealed import Sealer
from daiban.core.settings import Settings
from daiban.domain.catalog import load_catalog
from daiban.store.db import make_engine
from daiban.store.rating_proofs import outbox_context
from models.db import OutboxRow
from tests.cli.conftest import CITY, RESIDENT, TOWNSHIP, VILLAGE, ServedApi, token

AGENT = token("agent", VILLAGE)
STAFF = token("township_staff", TOWNSHIP)
SUPERVISOR = token("supervisor", CITY)
NEIGHBOUR = token("agent", "370285004002")


def run(runner: CliRunner, api_url: str, bearer: str, *args: str) -> Result:
    return runner.invoke(app, [*args, "--api", api_url, "--token", bearer])


def run_json(runner: CliRunner, api_url: str, bearer: str, *args: str) -> Any:
    result = run(runner, api_url, bearer, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def submit(runner: CliRunner, api_url: str, item: str = "linshi-jiuzhu", *extra: str) -> Any:
    resident = ("--name", RESIDENT["name"], "--id-number", RESIDENT["id_number"])
    args = ("submit", "--item", item, *resident, "--phone", RESIDENT["phone"], *extra)
    return run_json(runner, api_url, AGENT, *args)


def test_a_request_from_submit_to_rectification(runner: CliRunner, api_url: str) -> None:
    state = submit(runner, api_url, "yanglao-dengji")
    request_id = state["id"]
    assert state["stage"] == "village_intake"
    assert {"id", "deadline", "history", "allowed_actions"} <= state.keys()
    assert run_json(runner, api_url, AGENT, "show", request_id)["id"] == request_id
    steps = [
        (AGENT, "handoff", "township_review"),
        (STAFF, "accept", "township_review"),
        (STAFF, "approve", "result_delivery"),
        (AGENT, "deliver", "awaiting_rating"),
    ]
    for bearer, action, stage in steps:
        assert run_json(runner, api_url, bearer, "act", request_id, action)["stage"] == stage
    rated = run_json(runner, api_url, AGENT, "rate", request_id, "2", "--comment", "等了太久")
    assert rated["stage"] == "rectification"
    assert rated["rating"]["channel"] == "agent_unconfirmed"  # no code texted to the resident
    called = run_json(
        runner, api_url, STAFF, "act", request_id, "callback", "--note", "已回访", "--reached"
    )
    assert called["rectification"]["callbacks"][0]["reached"] is True
    fixed = run_json(
        runner, api_url, STAFF, "act", request_id, "rectify", "--note", "已说明",
        "--outcome", "explained",
    )  # fmt: skip
    assert fixed["stage"] == "completed"
    shown = run(runner, api_url, STAFF, "show", request_id)
    assert shown.exit_code == 0, shown.output
    assert "回访1次（已联系上），解释说明" in shown.output


def test_a_rating_confirmed_with_the_texted_code(runner: CliRunner, served_api: ServedApi) -> None:
    api_url = served_api.base_url
    request_id = submit(runner, api_url, "yanglao-dengji")["id"]
    for bearer, action in ((AGENT, "handoff"), (STAFF, "accept"), (STAFF, "approve")):
        run_json(runner, api_url, bearer, "act", request_id, action)
    run_json(runner, api_url, AGENT, "act", request_id, "deliver")
    sent = run(runner, api_url, AGENT, "rating-code", request_id)
    assert sent.exit_code == 0 and "验证码已发送到 138****1234" in sent.stdout, sent.stderr
    # The code as the resident's phone gets it (the SMS gateway is outside the system).
    engine = make_engine(served_api.database_url)
    try:
        with Session(engine) as session:
            row = session.exec(
                select(OutboxRow).where(
                    OutboxRow.request_id == request_id, OutboxRow.message == "rating_code"
                )
            ).one()
    finally:
        engine.dispose()
    assert row.sealed is not None
    text = Sealer.from_settings(Settings()).open(row.sealed, outbox_context(request_id))["text"]
    code = text.split("确认码", 1)[1][:6]
    other = f"{(int(code) + 1) % 1_000_000:06d}"
    wrong = run(runner, api_url, AGENT, "rate", request_id, "5", "--code", other)
    assert wrong.exit_code != 0 and "confirmation_code" in wrong.stderr
    rated = run_json(runner, api_url, AGENT, "rate", request_id, "5", "--code", code)
    assert rated["rating"]["channel"] == "sms_code"


def test_submit_hands_in_the_catalog_materials_by_default(runner: CliRunner, api_url: str) -> None:
    dibao = load_catalog().get("dibao")
    assert dibao is not None
    assert submit(runner, api_url, "dibao")["materials"] == list(dibao.materials)
    chosen = submit(runner, api_url, "dibao", "--material", "户口簿", "--material", "低保申请书")
    assert chosen["materials"] == ["户口簿", "低保申请书"]


def test_an_idempotency_key_never_makes_a_second_request(runner: CliRunner, api_url: str) -> None:
    key = uuid.uuid4().hex
    first = submit(runner, api_url, "shebao-ka", "--idempotency-key", key)
    again = submit(runner, api_url, "shebao-ka", "--idempotency-key", key)
    assert first["id"] == again["id"]


def test_lists_queue_and_stats_as_json(runner: CliRunner, api_url: str) -> None:
    request_id = submit(runner, api_url)["id"]
    run_json(runner, api_url, AGENT, "act", request_id, "handoff")
    listed = run_json(runner, api_url, AGENT, "list", "--stage", "township_review")
    assert listed.keys() == {"items", "next_cursor"}
    assert request_id in [r["id"] for r in listed["items"]]
    assert {r["stage"] for r in listed["items"]} == {"township_review"}
    queued = run_json(runner, api_url, STAFF, "queue", "--limit", "200")
    assert request_id in [r["id"] for r in queued["items"]]
    page = run_json(runner, api_url, AGENT, "list", "--limit", "1")
    assert len(page["items"]) == 1 and page["next_cursor"]
    stats = run_json(runner, api_url, SUPERVISOR, "stats", "--township", TOWNSHIP)
    (office,) = stats["offices"]
    assert office["office"] == TOWNSHIP and office["total"] >= 1
    assert {"completed", "on_time_rate", "ratings", "satisfaction_rate"} <= office.keys()


def test_text_for_people_speaks_names_within_80_columns(runner: CliRunner, api_url: str) -> None:
    request_id = submit(runner, api_url)["id"]
    shown = run(runner, api_url, AGENT, "show", request_id)
    assert shown.exit_code == 0, shown.stderr
    assert request_id in shown.stdout and "History" in shown.stdout
    assert "临时救助" in shown.stdout and "阎家疃村" in shown.stdout and "村代办中" in shown.stdout
    assert "handoff 送交乡镇, withdraw 撤回" in shown.stdout
    listed = run(runner, api_url, AGENT, "list")
    assert listed.exit_code == 0 and request_id in listed.stdout
    assert "village_intake" not in listed.stdout and "村代办中" in listed.stdout
    acted = run(runner, api_url, AGENT, "act", request_id, "handoff")
    assert acted.exit_code == 0 and "is at 乡镇受理中" in acted.stdout
    assert "you may now: withdraw 撤回" in acted.stdout
    stats = run(runner, api_url, SUPERVISOR, "stats")
    assert stats.exit_code == 0 and "Statistics per township" in stats.stdout
    assert "姜山镇" in stats.stdout
    for result in (shown, listed, acted, stats):
        assert max(cells(line) for line in result.stdout.splitlines()) <= 80, result.stdout


def test_the_ledger_for_supervisors(runner: CliRunner, api_url: str) -> None:
    request_id = submit(runner, api_url)["id"]
    run_json(runner, api_url, AGENT, "act", request_id, "handoff")
    page = run_json(runner, api_url, SUPERVISOR, "events", "--request", request_id)
    assert [e["action"] for e in page["items"]][:2] == ["handoff", "submit"]
    listed = run(runner, api_url, SUPERVISOR, "events", "--request", request_id)
    assert listed.exit_code == 0, listed.stderr
    assert "handoff 送交乡镇 → 乡镇受理中" in listed.stdout
    checked = run(runner, api_url, SUPERVISOR, "verify", "--request", request_id)
    assert checked.exit_code == 0, checked.stderr
    assert checked.stdout.startswith("ledger intact: ")
    assert run_json(runner, api_url, SUPERVISOR, "verify")["ok"] is True
    refused = run(runner, api_url, AGENT, "events")
    assert refused.exit_code == 4 and refused.stderr.startswith("error: 403 ")


def test_api_problems_exit_with_their_own_code_in_a_few_lines(
    runner: CliRunner, api_url: str
) -> None:
    request_id = submit(runner, api_url)["id"]
    conflict = run(runner, api_url, AGENT, "act", request_id, "deliver")
    assert conflict.exit_code == 6
    lines = conflict.stderr.strip().splitlines()
    assert lines[0].startswith("error: 409 ")
    assert lines[-1] == "  allowed actions now: handoff, withdraw"
    forbidden = run(runner, api_url, AGENT, "act", request_id, "accept")
    assert forbidden.exit_code == 4 and forbidden.stderr.startswith("error: 403 ")
    hidden = run(runner, api_url, NEIGHBOUR, "show", request_id)
    assert hidden.exit_code == 5 and hidden.stderr.startswith("error: 404 ")
    unauthenticated = run(runner, api_url, "not-a-token", "show", request_id)
    assert unauthenticated.exit_code == 4
    assert unauthenticated.stderr.startswith("error: 401 ")
    resident = ("--name", RESIDENT["name"], "--id-number", RESIDENT["id_number"])
    args = ("submit", "--item", "moon-landing", *resident, "--phone", RESIDENT["phone"])
    unknown_item = run(runner, api_url, AGENT, *args, "--material", "户口簿")
    assert unknown_item.exit_code == 2
    assert unknown_item.stderr.startswith("error: 422 ") and "item:" in unknown_item.stderr
