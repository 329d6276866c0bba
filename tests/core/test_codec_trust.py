"""The codec's side of the trust boundary: workers refuse payloads that are not ours, the
endpoint's mark cannot be stripped, and a compressed payload cannot inflate without bound."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload

from daiban.core.codec import (
    ENDPOINT_ORIGIN,
    ORIGIN,
    REFUSED,
    EncryptionCodec,
    PayloadTooLarge,
    new_key,
    parse_keys,
)
from daiban.core.settings import Settings
from daiban.core.temporal import converter
from models.contracts import ActionCommand, Actor

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"action": "accept"}')


async def test_a_strict_codec_refuses_plain_payloads_and_decodes_ours() -> None:
    keys = parse_keys(f"k1:{new_key()}")
    client, worker = EncryptionCodec(keys), EncryptionCodec(keys, strict=True)
    [sealed] = await client.encode([PLAIN])
    [plain, refused] = await worker.decode([sealed, PLAIN])
    assert plain == PLAIN
    assert refused.metadata["encoding"] == REFUSED and refused.data == b""
    # A client (the API, the CLI) still reads unencrypted payloads: it only reads.
    assert await client.decode([PLAIN]) == [PLAIN]


async def test_payloads_sealed_by_the_endpoint_are_refused_by_workers() -> None:
    keys = parse_keys(f"k1:{new_key()}")
    endpoint = EncryptionCodec(keys, origin=ENDPOINT_ORIGIN)
    [sealed] = await endpoint.encode([PLAIN])
    assert sealed.metadata[ORIGIN] == ENDPOINT_ORIGIN
    # The UI can read back what it sealed...
    assert await EncryptionCodec(keys).decode([sealed]) == [PLAIN]
    # ...a worker cannot be fed it...
    [refused] = await EncryptionCodec(keys, strict=True).decode([sealed])
    assert refused.metadata["encoding"] == REFUSED
    # ...and the mark is bound into the associated data: stripped, the payload does not decrypt.
    stripped = Payload(
        metadata={k: v for k, v in sealed.metadata.items() if k != ORIGIN}, data=sealed.data
    )
    with pytest.raises(InvalidTag):
        await EncryptionCodec(keys, strict=True).decode([stripped])


async def test_a_refused_payload_does_not_convert_into_a_command() -> None:
    data_converter = converter(Settings(), strict=True)
    [refused] = await data_converter.payload_codec.decode([PLAIN])  # type: ignore[union-attr]
    with pytest.raises(Exception, match="refused-not-ours"):
        data_converter.payload_converter.from_payloads([refused], [ActionCommand])
    # While an encrypted command goes through.
    command = ActionCommand("accept", Actor("s", "township_staff", "370285004"))
    [sealed] = await converter(Settings()).encode([command])
    assert await data_converter.decode([sealed], [ActionCommand]) == [command]


async def test_a_decompression_bomb_stops_at_the_cap() -> None:
    keys = parse_keys(f"k1:{new_key()}")
    zeros = Payload(metadata={"encoding": b"binary/plain"}, data=bytes(3 * 1024 * 1024))
    [sealed] = await EncryptionCodec(keys).encode([zeros])
    assert len(sealed.data) < 20_000  # 3 MB of zeros compress to a few KB
    with pytest.raises(PayloadTooLarge):
        await EncryptionCodec(keys, max_inflated=1024 * 1024).decode([sealed])
    assert await EncryptionCodec(keys).decode([sealed]) == [zeros]
