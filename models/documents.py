"""JSON documents of the contracts, encoded exactly as Temporal encodes them in payloads, so the
read model stores the same shape the workflow query returns."""

from __future__ import annotations

import json
from typing import Any

from temporalio.converter import AdvancedJSONEncoder, value_to_type

from models.contracts import RequestState


def to_document(value: object) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(value, cls=AdvancedJSONEncoder))
    return document


def state_from_document(document: dict[str, Any]) -> RequestState:
    state: RequestState = value_to_type(RequestState, document, [])
    return state
