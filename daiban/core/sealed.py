"""Values sealed at rest with the codec's keys: AES-GCM, a key id per value, rotation.

The read model keeps each request's state for lists and for reading a request whose workflow is
gone; the resident in it is sealed so that a copy of the database (a backup, a replica, a support
dump) holds no name, ID number or phone in the clear. The keys are the codec's
(``DAIBAN_CODEC_KEYS``): the first encrypts, every configured key opens, so keys rotate as they do
for Temporal payloads, and ``daiban db reseal`` moves old values to the newest key.

A sealed value is bound to its context (the request id): copied into another row it does not open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from daiban.core.codec import NONCE_BYTES, CodecKeyError, parse_keys
from daiban.core.settings import Settings

PURPOSE = b"daiban-sealed-v1"


class SealError(ValueError):
    """A sealed value is malformed, names a key this process does not hold, or was tampered
    with or moved to another context."""


class Sealer:
    """Seals JSON values with the newest key; opens values sealed with any configured key."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise CodecKeyError("at least one codec key is required")
        self.key_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}

    @classmethod
    def from_spec(cls, spec: str) -> Sealer:
        return cls(parse_keys(spec))

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        return cls.from_spec(settings.codec_keys.get_secret_value())

    def seal(self, value: Any, context: str) -> dict[str, str]:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        data = self._ciphers[self.key_id].encrypt(nonce, plain, _associated(self.key_id, context))
        return {"key": self.key_id, "data": base64.b64encode(nonce + data).decode()}

    def open(self, sealed: object, context: str) -> Any:
        if not isinstance(sealed, dict) or not isinstance(sealed.get("data"), str):
            raise SealError("not a sealed value")
        key_id = sealed.get("key")
        cipher = self._ciphers.get(key_id) if isinstance(key_id, str) else None
        if cipher is None or not isinstance(key_id, str):
            raise SealError(f"sealed with a key this process does not hold: {key_id!r}")
        try:
            raw = base64.b64decode(sealed["data"], validate=True)
            plain = cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(key_id, context)
            )
        except (binascii.Error, InvalidTag, ValueError):
            raise SealError(f"a sealed value of {context!r} does not open") from None
        return json.loads(plain)

    def current(self, sealed: object) -> bool:
        """Sealed with the newest key (nothing to rotate)."""
        return isinstance(sealed, dict) and sealed.get("key") == self.key_id


def _associated(key_id: str, context: str) -> bytes:
    return b"|".join((PURPOSE, key_id.encode(), context.encode()))
