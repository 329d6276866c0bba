"""The AES-GCM payload codec: round trips, compression, key rotation, tamper detection, key
parsing."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from daiban.core.codec import (
    COMPRESSION,
    ENCODING,
    KEY_ID,
    CodecKeyError,
    EncryptionCodec,
    new_key,
    parse_keys,
)

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


ENTRY = '{"action": "accept", "at": "2026-03-0%dT09:00:00+08:00", "office": "town-03"}'
STATE = Payload(
    metadata={"encoding": b"json/plain"},
    data=(
        '{"resident": {"name": "王秀英"}, "history": ['
        + ", ".join(ENTRY % (n % 9 + 1) for n in range(30))
        + "]}"
    ).encode(),
)


async def test_large_payloads_are_compressed_then_encrypted() -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{new_key()}"))
    [small, large] = await codec.encode([PLAIN, STATE])
    assert COMPRESSION not in small.metadata
    assert large.metadata[COMPRESSION] == b"zlib"
    assert len(large.data) < len(STATE.SerializeToString()) / 3
    assert "王秀英".encode() not in large.data
    assert await codec.decode([small, large]) == [PLAIN, STATE]


async def test_payloads_written_before_compression_still_decode() -> None:
    key = new_key()
    cipher = AESGCM(base64.b64decode(key))
    nonce = bytes(12)
    # The earlier form: the key id alone as associated data, no compression mark.
    sealed = Payload(
        metadata={"encoding": ENCODING, KEY_ID: b"k1"},
        data=nonce + cipher.encrypt(nonce, STATE.SerializeToString(), b"k1"),
    )
    assert await EncryptionCodec(parse_keys(f"k1:{key}")).decode([sealed]) == [STATE]


async def test_the_compression_mark_cannot_be_stripped_or_added() -> None:
    codec = EncryptionCodec(parse_keys(f"k1:{new_key()}"))
    [small, large] = await codec.encode([PLAIN, STATE])
    stripped = Payload(
        metadata={k: v for k, v in large.metadata.items() if k != COMPRESSION}, data=large.data
    )
    added = Payload(metadata={**small.metadata, COMPRESSION: b"zlib"}, data=small.data)
    for forged in (stripped, added):
        with pytest.raises(InvalidTag):
            await codec.decode([forged])
