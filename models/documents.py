"""JSON documents of the contracts, encoded exactly as Temporal encodes them in payloads, so the
read model stores the same shape the workflow query returns.

The encoder and the decoder here give Temporal's JSON byte for byte, without two of its costs:
encoding a dataclass through ``dataclasses.asdict``, which deep-copies every field first, and
asking ``typing.get_type_hints`` for a dataclass's fields on every value decoded. A request's
state is about forty dataclass values; ``daiban.core.payloads`` puts both into every client's and
worker's payload converter.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from temporalio.converter import AdvancedJSONEncoder, JSONTypeConverter, value_to_type

from models.contracts import RequestState


class DataclassEncoder(AdvancedJSONEncoder):
    """``asdict`` without its deep copy: a dataclass becomes a shallow dict of its fields, and
    the encoder comes back for the nested ones, which yields the same JSON."""

    def default(self, o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        return super().default(o)


class DataclassFields(JSONTypeConverter):
    """Decodes a dataclass as Temporal does, with its field types resolved once per class."""

    def __init__(self) -> None:
        self._fields: dict[type, list[tuple[str, Any]]] = {}
        self._chain: list[JSONTypeConverter] = [self]

    def to_typed_value(self, hint: type, value: Any) -> Any:
        fields = self._fields.get(hint)
        if fields is None:
            if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
                return JSONTypeConverter.Unhandled
            hints = typing.get_type_hints(hint)
            # Fields that are not init arguments are left to Temporal's own conversion.
            if not all(f.init for f in dataclasses.fields(hint)):
                return JSONTypeConverter.Unhandled
            fields = [(f.name, hints[f.name]) for f in dataclasses.fields(hint)]
            self._fields[hint] = fields
        if not isinstance(value, dict):
            raise TypeError(f"Cannot convert to dataclass {hint}, value is {type(value)} not dict")
        arguments: dict[str, Any] = {}
        for name, field_hint in fields:
            if name in value:
                try:
                    arguments[name] = value_to_type(field_hint, value[name], self._chain)
                except Exception as error:
                    message = f"Failed converting field {name} on dataclass {hint}"
                    raise TypeError(message) from error
        return hint(**arguments)


_FIELDS = [DataclassFields()]


def to_document(value: object) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(value, cls=DataclassEncoder))
    return document


def state_from_document(document: dict[str, Any]) -> RequestState:
    state: RequestState = value_to_type(RequestState, document, _FIELDS)
    return state
