"""Resident data rules without a server: GB 11643 ID numbers, phones, names, and masking."""

from __future__ import annotations

from datetime import date

import pytest

from daiban.domain.privacy import (
    check_id_number,
    check_name,
    check_phone,
    mask_id_number,
    mask_name,
    mask_phone,
)


@pytest.mark.parametrize(
    "number",
    ["370285194802150024", "11010519491231002X", "11010519491231002x", " 370285200001011233 "],
)
def test_valid_id_numbers(number: str) -> None:
    assert check_id_number(number) == number.strip().upper()


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("370285194802150023", "check digit"),
        ("370285194802300029", "birth date"),  # 30 February (check digit valid)
        ("37028519480215002", "17 digits"),
        ("3702851948021500X4", "17 digits"),
        ("", "17 digits"),
    ],
)
def test_invalid_id_numbers(number: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_id_number(number)


def test_birth_date_bounds() -> None:
    # 2026-11-28 is tomorrow for a "today" of 2026-11-27; 1899 is too early.
    with pytest.raises(ValueError, match="between 1900"):
        check_id_number("370285202611280018", today=date(2026, 11, 27))
    assert check_id_number("370285202611270012", today=date(2026, 11, 27))
    with pytest.raises(ValueError, match="between 1900"):
        check_id_number("370285189912310010")


def test_phones_and_names() -> None:
    assert check_phone("13805321234") == "13805321234"
    for bad in ("12805321234", "1380532123", "138053212345", "+8613805321234", "1380532123a"):
        with pytest.raises(ValueError):
            check_phone(bad)
    assert check_name("  王秀英 ") == "王秀英"
    for bad in ("", "   ", "王" * 51, "王\x00英"):
        with pytest.raises(ValueError):
            check_name(bad)


def test_masks() -> None:
    assert mask_name("王秀英") == "王*英"
    assert mask_name("王英") == "王*"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("王") == "*"
    assert mask_id_number("370285194802150024") == "370285********0024"
    assert mask_phone("13805321234") == "138****1234"
