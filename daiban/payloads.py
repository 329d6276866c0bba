"""The JSON payload converter of every client and worker, tuned for the contracts' dataclasses.

Temporal's default JSON converter is kept byte for byte (the same JSON, the same encoding name),
so histories written by either one decode with the other; only two costs are removed. Decoding
a dataclass asks ``typing.get_type_hints`` for its fields on every value, and encoding one runs
``dataclasses.asdict``, which deep-copies every field first. A request's state is about forty
dataclass values, decoded or encoded on every update, activity and query: together these were a
fifth of the worker's and the API's CPU (BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)


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


class PayloadConverter(CompositePayloadConverter):
    """Temporal's default converters, with the JSON one using the two classes above."""

    def __init__(self) -> None:
        json_converter = JSONPlainPayloadConverter(
            encoder=DataclassEncoder, custom_type_converters=[DataclassFields()]
        )
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )
