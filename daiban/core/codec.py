"""AES-GCM payload codec with key ids: residents' data never reaches Temporal in plain text.

Every payload (workflow input, update arguments, activity results, query results, state) is
encrypted on the client and the worker before it leaves the process. Each encrypted payload names
its key id in the metadata, so keys rotate without touching history: the first configured key
encrypts, every configured key decrypts. Payloads of 512 bytes and more are compressed before
they are encrypted, and never inflate beyond ``MAX_INFLATED_BYTES`` when decrypted. Search
attributes are not payloads and stay in the clear; they never hold personal data.

The workers decode strictly (``EncryptionCodec(strict=True)``): a payload that is not encrypted
with our keys, or that was encrypted by the codec endpoint on someone's request, reaches the
workflow as a payload no converter understands. Whoever can talk to Temporal directly can then
neither send a plain-JSON command nor have the endpoint seal one for them: the update is rejected
and the signal dropped by the SDK, while the workflow itself goes on.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import zlib
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from daiban.core.payloads import PayloadConverter

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
COMPRESSION = "compression"
ZLIB = b"zlib"
COMPRESS_FROM = 512  # bytes of the plain payload; smaller ones rarely shrink
# A request's state is a few KB and Temporal refuses payloads over 2 MB: anything that inflates
# beyond this was not written by us (3 MB of zeros compress to 18 KB).
MAX_INFLATED_BYTES = 4 * 1024 * 1024
# Payloads sealed by the codec endpoint (for the UI) say so, bound into the associated data so the
# mark cannot be stripped; the workers refuse them.
ORIGIN = "encoded-by"
ENDPOINT_ORIGIN = b"codec-endpoint"
# What a refused payload becomes for the workflow: an encoding no payload converter knows.
REFUSED = b"binary/refused-not-ours"


class CodecKeyError(ValueError):
    """A key is malformed or a payload names a key this process does not hold."""


class PayloadTooLarge(ValueError):
    """A compressed payload inflates beyond the allowed size."""


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """``"id2:base64key,id1:base64key"`` → [(id, key)], newest (encrypting) first."""
    keys: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id:
            raise CodecKeyError("codec keys must look like 'key_id:base64key,...'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error as error:
            raise CodecKeyError(f"codec key {key_id!r} is not valid base64") from error
        if len(key) not in (16, 24, 32):
            raise CodecKeyError(f"codec key {key_id!r} must be 16, 24 or 32 bytes, not {len(key)}")
        keys.append((key_id, key))
    if not keys:
        raise CodecKeyError("at least one codec key is required")
    return keys


def new_key() -> str:
    """A fresh 256-bit key, base64, for ``DAIBAN_CODEC_KEYS``."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload; decrypts ours. ``strict`` (the workers) refuses every other
    payload; ``origin`` marks what this instance encrypts (the codec endpoint's)."""

    def __init__(
        self,
        keys: Sequence[tuple[str, bytes]],
        *,
        strict: bool = False,
        origin: bytes | None = None,
        max_inflated: int = MAX_INFLATED_BYTES,
    ) -> None:
        if not keys:
            raise CodecKeyError("at least one codec key is required")
        self._encrypt_id, first = keys[0]
        self._encryptor = AESGCM(first)
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}
        self._strict = strict
        self._origin = origin
        self.max_inflated = max_inflated

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._strict:
            return [self._decrypt(p) if self.ours(p) else _refused() for p in payloads]
        return [self._decrypt(p) for p in payloads]

    @staticmethod
    def ours(payload: Payload) -> bool:
        """Encrypted by a client or worker (not plain, not sealed by the codec endpoint)."""
        metadata = payload.metadata
        return metadata.get("encoding") == ENCODING and ORIGIN not in metadata

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._encrypt_id.encode()
        plain = payload.SerializeToString()
        metadata = {"encoding": ENCODING, KEY_ID: key_id}
        if self._origin is not None:
            metadata[ORIGIN] = self._origin
        # A request's state is JSON of about 3 KB that compresses to a third: the history keeps
        # (and the server writes, sends and caches) a third of the bytes. Compression happens
        # before encryption, where it still finds redundancy. A compressed length says how
        # redundant the plain text was; a payload holds one request's data only, into which no
        # other party can mix guesses and watch the length (what compression attacks need).
        if len(plain) >= COMPRESS_FROM:
            plain = zlib.compress(plain, 1)
            metadata[COMPRESSION] = ZLIB
        # The key id and the compression are bound as associated data: a payload can be neither
        # relabelled with another key nor stripped of its compression mark.
        sealed = self._encryptor.encrypt(nonce, plain, _associated(metadata))
        return Payload(metadata=metadata, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        metadata = payload.metadata
        if metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was on, or not ours
        key_id = metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(f"payload encrypted with unknown key {key_id!r}")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        plain = cipher.decrypt(nonce, sealed, _associated(metadata))
        if COMPRESSION in metadata:
            plain = _inflate(plain, self.max_inflated)
        return Payload.FromString(plain)


def _inflate(data: bytes, limit: int) -> bytes:
    """Decompress at most ``limit`` bytes: a bomb stops at the limit instead of filling memory."""
    inflater = zlib.decompressobj()
    plain = inflater.decompress(data, limit)
    if inflater.unconsumed_tail or not inflater.eof:
        raise PayloadTooLarge(f"a payload inflates beyond {limit} bytes")
    return plain


def _refused() -> Payload:
    return Payload(metadata={"encoding": REFUSED})


def _associated(metadata: Mapping[str, bytes]) -> bytes:
    """The key id, the compression and the origin when there are (payloads written before
    compression was added carry the key id alone, and still decrypt)."""
    compression = metadata.get(COMPRESSION)
    origin = metadata.get(ORIGIN)
    return (
        metadata[KEY_ID]
        + (b"|" + compression if compression else b"")
        + (b"|origin=" + origin if origin else b"")
    )


def data_converter(keys_spec: str, *, strict: bool = False) -> DataConverter:
    """The converter of clients (``strict=False``) and workers (``strict=True``)."""
    return dataclasses.replace(
        DataConverter.default,
        payload_converter_class=PayloadConverter,
        payload_codec=EncryptionCodec(parse_keys(keys_spec), strict=strict),
    )
