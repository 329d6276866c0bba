"""What the running system writes holds no resident in the clear.

The whole stack runs as users run it (``daiban run``: Temporal's dev server on its SQLite file, the
worker, the API, SQLite for the read model, ledger and outbox, logs under ``var/log``). Full
lifecycles with a distinctive resident, a refusal whose note carries a marker, reads by every kind
of caller and a scrape of ``/metrics``; then, with the stack stopped, every byte of every file it
wrote is searched: logs, Temporal's database (histories, search attributes, visibility), the
read model, ledger, outbox and access record.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from daiban.cli.simulate import id_check_char
from tests.run.conftest import TOWNSHIP, VILLAGE, StackRun, bearer

FIRST17 = "37028519370611" + "947"
RESIDENT = {"name": "甄鑫淼", "id_number": FIRST17 + id_check_char(FIRST17), "phone": "13987650412"}
NOTE = "便签标记QX7-无此材料"  # a staff note: kept in the ledger, never in a log or an outbox row


def post(api: str, path: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{api}{path}", json=body, headers=headers, timeout=30)
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


def files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_no_file_the_system_writes_holds_a_resident_in_the_clear(stack: StackRun) -> None:
    agent, staff = bearer("agent", VILLAGE), bearer("township_staff", TOWNSHIP)
    supervisor = bearer("supervisor", TOWNSHIP)
    stack.start()
    api = stack.api

    def act(rid: str, headers: dict[str, str], action: str, **fields: Any) -> dict[str, Any]:
        return post(api, f"/v1/requests/{rid}/actions", headers, {"action": action, **fields})

    body = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["临时救助申请书"]}
    done = post(api, "/v1/requests", agent, body)["id"]
    act(done, agent, "handoff")
    act(done, staff, "accept")
    act(done, staff, "approve", note="符合条件")
    act(done, agent, "deliver")
    assert act(done, agent, "rate", score=5)["stage"] == "completed"
    refused = post(api, "/v1/requests", agent, body)["id"]
    act(refused, agent, "handoff")
    assert act(refused, staff, "refuse", note=NOTE)["stage"] == "refused"
    # Read by those who see the resident (the agent) and those who do not (a supervisor).
    shown = httpx.get(f"{api}/v1/requests/{done}", headers=agent, timeout=30).json()
    assert shown["resident"] == RESIDENT  # the system did hold and serve the resident
    for headers in (agent, staff, supervisor):
        listed = httpx.get(f"{api}/v1/requests", headers=headers, timeout=30)
        assert listed.status_code == 200 and listed.json()["items"]
    httpx.get(f"{api}/v1/requests/{done}", headers=supervisor, timeout=30).raise_for_status()
    metrics = httpx.get(f"{api}/metrics", timeout=30).text
    stack.interrupt()

    written = files_under(stack.root)
    names = {p.name for p in written}
    assert {"daiban.db", "temporal.db", "worker.log", "api.log"} <= names, names
    secrets = [RESIDENT["name"], RESIDENT["id_number"], RESIDENT["phone"]]
    for path, data in written.items():
        for secret in secrets:
            assert secret.encode() not in data, f"{secret} in the clear in {path}"
    for secret in secrets:
        assert secret not in metrics
    # The search looks where things are: the requests, ledger and note are there to be found.
    everything = b"".join(written.values())
    temporal = b"".join(d for p, d in written.items() if p.name.startswith("temporal.db"))
    assert done.encode() in temporal  # its search attributes, in the clear by design
    assert NOTE.encode() in everything
    with sqlite3.connect(stack.root / "daiban.db") as db:
        outbox = [row[0] for row in db.execute("SELECT message FROM notification_outbox")]
        ledger = [row[0] for row in db.execute("SELECT note FROM supervision_ledger")]
        access = db.execute("SELECT COUNT(*) FROM access_record").fetchone()[0]
    assert NOTE in ledger and outbox and not any(NOTE in m for m in outbox)
    assert any("不予受理" in m for m in outbox)
    assert access >= 1  # the agent's unmasked read was recorded
    logs = b"".join(data for path, data in written.items() if path.suffix in (".log", ".out"))
    assert b"notification" in logs and NOTE.encode() not in logs
