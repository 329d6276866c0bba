"""No resident name, ID number or phone in plain text in a Temporal history, search attribute or
log line of a full lifecycle."""

from __future__ import annotations

import logging

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from daiban.core.codec import ENCODING
from daiban.core.logs import configure_logging
from tests.workflows.conftest import AGENT, CITY_STAFF, RESIDENT, TOWNSHIP_STAFF, Harness
from workflows import request

SECRETS = [RESIDENT.name, RESIDENT.id_number, RESIDENT.phone]


def payloads(message: Message) -> list[Payload]:
    """Every Payload anywhere inside a protobuf message (fields, lists and maps)."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found += payloads(item)
    return found


PATCHES = (
    request.RECORD_AFTER_COMMIT,
    request.READY_AFTER_RECORD,
    request.ATOMIC_TRANSITIONS,
    request.LOCAL_DATES,
    request.RECOMPUTE_EVERY_INSTANT,
    request.BOUND_COMMANDS,
    request.EXTENSION_BY_HEAD,
    request.RECORD_OUTSIDE_LOCK,
    request.STATUTORY_OWN_RUNG,
    request.EXPECTED_FOLLOWS_CALENDAR,
    request.COUNTY_LADDER,
    request.LAWFUL_EXTENSION,
    request.WRITTEN_NOTICES,
    request.GAP_RULES,
    request.RECTIFICATION_CALLBACK,
    request.RATING_CHANNELS,
)


async def test_history_and_logs_hold_no_personal_data(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG", json=True)  # structlog lines go through stdlib logging
    logging.getLogger().addHandler(caplog.handler)  # configure_logging replaced the handlers
    caplog.set_level(logging.DEBUG)
    rid = await harness.submit("dibao")
    steps = [
        ("handoff", AGENT), ("accept", TOWNSHIP_STAFF), ("forward", TOWNSHIP_STAFF),
        ("accept", CITY_STAFF), ("approve", CITY_STAFF), ("deliver", AGENT),
    ]  # fmt: skip
    for action, actor in steps:
        await harness.act(rid, action, actor)
    state = await harness.act(rid, "rate", AGENT, score=5)
    assert state.resident.name == RESIDENT.name  # the codec decrypts for authorised clients

    history = await harness.handles[rid].fetch_history()
    found = [p for event in history.events for p in payloads(event)]
    encrypted = [p for p in found if p.metadata.get("encoding") == ENCODING]
    # Input, update arguments and results, local activity results: all encrypted. What is not
    # encrypted is a search attribute (typed, or null when unset; no personal data) or the SDK's
    # own marker data (local-activity header: sequence number, attempt, activity type; a patch
    # marker: the patch id).
    assert len(encrypted) >= 20
    plain = [p for p in found if p not in encrypted]
    assert all(
        p.metadata.get("type")
        or p.metadata["encoding"] == b"binary/null"
        or b'"activity_type"' in p.data
        or any(p.data.startswith(b'{"id":"%s"' % patch.encode()) for patch in PATCHES)
        for p in plain
    )
    raw = b"".join(p.data for p in found) + history.to_json().encode()
    for secret in SECRETS:
        assert secret.encode() not in raw
    for secret in SECRETS:
        assert secret not in caplog.text
    assert "notification" in caplog.text  # the log did capture the lifecycle
