"""Values sealed at rest: they open only with a configured key, in their own context, untouched;
keys rotate as the codec's do."""

from __future__ import annotations

import base64

import pytest

from daiban.core.codec import CodecKeyError, new_key
from daiban.core.sealed import Sealer, SealError

RESIDENT = {"name": "甄鑫淼", "id_number": "370285194802150024", "phone": "13805321234"}
OLD, NEW = ("k1", base64.b64decode(new_key())), ("k2", base64.b64decode(new_key()))


def test_a_sealed_value_opens_in_its_context_and_hides_the_clear_text() -> None:
    sealer = Sealer([OLD])
    sealed = sealer.seal(RESIDENT, "r1")
    assert sealed["key"] == "k1"
    assert all(value not in str(sealed) for value in RESIDENT.values())
    assert sealer.open(sealed, "r1") == RESIDENT
    assert sealer.seal(RESIDENT, "r1") != sealed  # a fresh nonce each time


def test_a_sealed_value_moved_to_another_request_does_not_open() -> None:
    sealer = Sealer([OLD])
    with pytest.raises(SealError, match="'r2'"):
        sealer.open(sealer.seal(RESIDENT, "r1"), "r2")


def test_a_tampered_or_malformed_value_does_not_open() -> None:
    sealer = Sealer([OLD])
    sealed = sealer.seal(RESIDENT, "r1")
    raw = bytearray(base64.b64decode(sealed["data"]))
    raw[-1] ^= 1
    for bad in (
        {**sealed, "data": base64.b64encode(bytes(raw)).decode()},
        {**sealed, "data": "not base64!"},
        {"key": "k1"},
        "a string",
    ):
        with pytest.raises(SealError):
            sealer.open(bad, "r1")


def test_keys_rotate_the_newest_seals_every_configured_key_opens() -> None:
    before = Sealer([OLD]).seal(RESIDENT, "r1")
    rotated = Sealer([NEW, OLD])
    assert rotated.open(before, "r1") == RESIDENT
    assert not rotated.current(before)
    after = rotated.seal(RESIDENT, "r1")
    assert after["key"] == "k2" and rotated.current(after)
    # A value relabelled with another key id does not open: the id is bound to the value.
    with pytest.raises(SealError):
        rotated.open({**before, "key": "k2"}, "r1")
    with pytest.raises(SealError, match="does not hold: 'k2'"):
        Sealer([OLD]).open(after, "r1")


def test_a_sealer_needs_a_key() -> None:
    with pytest.raises(CodecKeyError):
        Sealer([])
    assert Sealer.from_spec(f"k9:{new_key()}").key_id == "k9"
