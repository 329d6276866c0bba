"""The payload converter and the read model's documents: the same JSON as Temporal's default,
both ways, on real payloads."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import DefaultPayloadConverter

from daiban.core.codec import EncryptionCodec, parse_keys
from daiban.core.payloads import PayloadConverter
from daiban.core.settings import Settings
from models.contracts import ActionCommand, RequestInput, RequestState, TransitionRecord
from models.documents import state_from_document, to_document

STORED = Path(__file__).parent.parent / "replay" / "histories"
HISTORIES = sorted(STORED.rglob("*.json"))
HISTORIES_NOW = sorted(STORED.glob("*.json"))


async def _typed_payloads(paths: list[Path] = HISTORIES) -> list[tuple[type, Payload]]:
    """Every workflow input, update argument and result, and recording activity input of the
    stored histories, decrypted with the development key they were written with."""
    codec = EncryptionCodec(parse_keys(Settings().codec_keys.get_secret_value()))
    found: list[tuple[type, Payload]] = []
    for path in paths:
        for event in WorkflowHistory.from_json("req", path.read_text()).events:
            kind = event.WhichOneof("attributes")
            attributes = getattr(event, kind)
            if kind == "workflow_execution_started_event_attributes":
                pairs = [(RequestInput, attributes.input.payloads)]
            elif kind == "activity_task_scheduled_event_attributes":
                record = attributes.activity_type.name == "record_transition"
                pairs = [(TransitionRecord, attributes.input.payloads)] if record else []
            elif kind == "workflow_execution_update_accepted_event_attributes":
                update = attributes.accepted_request
                act = update.input.name == "act"
                pairs = [(ActionCommand, update.input.args.payloads)] if act else []
            elif kind == "workflow_execution_update_completed_event_attributes":
                pairs = [(RequestState, attributes.outcome.success.payloads)]
            else:
                pairs = []
            for hint, payloads in pairs:
                for payload in await codec.decode(list(payloads)):
                    found.append((hint, payload))
    return found


async def test_decodes_and_encodes_exactly_as_temporal_does() -> None:
    payloads = await _typed_payloads()
    kinds = {hint for hint, _ in payloads}
    assert kinds == {RequestInput, ActionCommand, RequestState, TransitionRecord}
    assert len(payloads) > 100
    ours, default = PayloadConverter(), DefaultPayloadConverter()
    for hint, payload in payloads:
        [value] = ours.from_payloads([payload], [hint])
        assert isinstance(value, hint)
        assert value == default.from_payloads([payload], [hint])[0]
        # Byte for byte the JSON Temporal writes: histories written by either converter replay
        # with the other.
        assert ours.to_payloads([value]) == default.to_payloads([value])


async def test_encodes_the_stored_bytes_of_the_current_contracts() -> None:
    # The top folder holds histories of the current contracts (older ones lack later fields).
    current = await _typed_payloads(HISTORIES_NOW)
    assert current
    converter = PayloadConverter()
    for hint, payload in current:
        assert converter.to_payloads(converter.from_payloads([payload], [hint])) == [payload]


@dataclasses.dataclass
class Inner:
    at: datetime
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Outer:
    inner: Inner | None
    items: list[Inner]
    count: int = 0


@dataclasses.dataclass
class Derived:
    base: int
    twice: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.twice = self.base * 2


def test_nested_optional_and_non_init_dataclasses() -> None:
    converter = PayloadConverter()
    value = Outer(Inner(datetime(2026, 3, 4, 9)), [Inner(datetime(2026, 3, 5), ["a"])], 2)
    [payload] = converter.to_payloads([value])
    assert converter.from_payloads([payload], [Outer]) == [value]
    [empty] = converter.to_payloads([Outer(None, [])])
    assert converter.from_payloads([empty], [Outer]) == [Outer(None, [])]
    [derived] = converter.to_payloads([Derived(3)])
    assert converter.from_payloads([derived], [Derived]) == [Derived(3)]


def test_a_wrong_field_names_the_field() -> None:
    converter = PayloadConverter()
    [payload] = DefaultPayloadConverter().to_payloads([{"inner": None, "items": [{"at": 5}]}])
    with pytest.raises(Exception, match="field items on dataclass"):
        converter.from_payloads([payload], [Outer])


async def test_read_model_documents_are_the_payloads_json() -> None:
    states = [p for hint, p in await _typed_payloads(HISTORIES_NOW) if hint is RequestState]
    assert states
    default = DefaultPayloadConverter()
    for payload in states:
        [state] = default.from_payloads([payload], [RequestState])
        document = to_document(state)
        assert document == json.loads(payload.data)
        assert state_from_document(document) == state
