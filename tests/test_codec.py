"""The AES-GCM payload codec: round trips, key rotation, tamper detection, key parsing."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload

from daiban.codec import ENCODING, KEY_ID, CodecKeyError, EncryptionCodec, new_key, parse_keys

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data='{"name": "王秀英"}'.encode())


async def test_round_trip_hides_the_plain_text() -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{new_key()}"))
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    assert "王秀英".encode() not in sealed.data
    assert await codec.decode([sealed]) == [PLAIN]


async def test_rotation_old_keys_still_decrypt() -> None:
    old, new = new_key(), new_key()
    [sealed_old] = await EncryptionCodec(parse_keys(f"k1:{old}")).encode([PLAIN])
    rotated = EncryptionCodec(parse_keys(f"k2:{new},k1:{old}"))
    [sealed_new] = await rotated.encode([PLAIN])
    assert sealed_new.metadata[KEY_ID] == b"k2"  # the first key encrypts
    assert await rotated.decode([sealed_old, sealed_new]) == [PLAIN, PLAIN]
    with pytest.raises(CodecKeyError, match="unknown key 'k2'"):
        await EncryptionCodec(parse_keys(f"k1:{old}")).decode([sealed_new])


async def test_tampering_and_relabelling_are_detected() -> None:
    a, b = new_key(), new_key()
    codec = EncryptionCodec(parse_keys(f"k1:{a},k2:{b}"))
    [sealed] = await codec.encode([PLAIN])
    flipped = Payload(
        metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    with pytest.raises(InvalidTag):
        await codec.decode([flipped])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k2"}, data=sealed.data)
    with pytest.raises(InvalidTag):
        await codec.decode([relabelled])


async def test_unencrypted_payloads_pass_through() -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{new_key()}"))
    assert await codec.decode([PLAIN]) == [PLAIN]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "at least one"),
        ("nokey", "key_id:base64key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "must be 16, 24 or 32 bytes"),
    ],
)
def test_bad_key_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(CodecKeyError, match=message):
        parse_keys(spec)
