"""The JSON payload converter of every client and worker, tuned for the contracts' dataclasses.

Temporal's default JSON converter is kept byte for byte (the same JSON, the same encoding name),
so histories written by either one decode with the other; only two costs are removed (see
``models.documents``): decoding asked ``typing.get_type_hints`` for every dataclass value, and
encoding deep-copied every field. A request's state is decoded or encoded on every update,
activity and query: together these were a fifth of the worker's and the API's CPU
(BENCHMARKS.md).
"""

from __future__ import annotations

from temporalio.converter import (
    CompositePayloadConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

from models.documents import DataclassEncoder, DataclassFields


class PayloadConverter(CompositePayloadConverter):
    """Temporal's default converters, with the JSON one using the contracts' encoder and
    decoder."""

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
