"""Properties of the resident-data rules (GB 11643 ID numbers, phones, masking), with hypothesis:
whatever the input, the validators accept exactly what they should and masks never reveal the
hidden part."""

from __future__ import annotations

import calendar
import re
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from daiban.domain.privacy import (
    EARLIEST_BIRTH,
    ID_CHECK_CHARS,
    ID_WEIGHTS,
    check_id_number,
    check_phone,
    mask_id_number,
    mask_phone,
)

TODAY = date(2026, 11, 27)
PROPERTIES = settings(max_examples=200, deadline=None, derandomize=True, database=None)
ASCII_DIGITS = "0123456789"
# Digits of other scripts (Arabic-Indic, full-width, Devanagari), which Python's \d and int()
# accept as well: never part of an ID number or a phone number.
SCRIPTS = ("٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "०१२३४५६७८९")
FOREIGN_DIGITS = "".join(SCRIPTS)


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def with_check(first17: str) -> str:
    return first17 + check_char(first17)


regions = st.integers(110000, 659999).map(str)  # 11 Beijing … 65 Xinjiang
sequences = st.integers(0, 999).map(lambda n: f"{n:03d}")
births = st.dates(EARLIEST_BIRTH, TODAY)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    born = draw(births)
    return with_check(f"{draw(regions)}{born:%Y%m%d}{draw(sequences)}")


@st.composite
def impossible_dates(draw: st.DrawFn) -> str:
    """YYYYMMDD that names no day of the calendar."""
    year = draw(st.integers(1900, 2026))
    kind = draw(st.sampled_from(["month", "day", "leap"]))
    if kind == "month":
        month, day = draw(st.sampled_from([0, *range(13, 100)])), draw(st.integers(1, 28))
    elif kind == "day":
        month = draw(st.integers(1, 12))
        last = calendar.monthrange(year, month)[1]
        day = draw(st.sampled_from([0, *range(last + 1, 100)]))
    else:
        year = draw(st.integers(1900, 2026).filter(lambda y: not calendar.isleap(y)))
        month, day = 2, 29
    return f"{year:04d}{month:02d}{day:02d}"


@PROPERTIES
@given(valid_ids())
def test_valid_ids_are_accepted(number: str) -> None:
    assert check_id_number(number, today=TODAY) == number
    # Lower-case x and surrounding blanks are tolerated and normalised.
    assert check_id_number(f"  {number.lower()} ", today=TODAY) == number


@PROPERTIES
@given(valid_ids(), st.integers(0, 17), st.data())
def test_any_single_character_change_is_rejected(number: str, at: int, data: st.DataObject) -> None:
    """GB 11643's weights are non-zero modulo the prime 11: one changed digit always shows."""
    alphabet = ASCII_DIGITS + ("X" if at == 17 else "")
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != number[at]]))
    changed = number[:at] + replacement + number[at + 1 :]
    with pytest.raises(ValueError, match="check digit"):
        check_id_number(changed, today=TODAY)


@PROPERTIES
@given(regions, impossible_dates(), sequences)
def test_impossible_birth_dates_are_rejected(region: str, born: str, sequence: str) -> None:
    with pytest.raises(ValueError, match="birth date"):
        check_id_number(with_check(region + born + sequence), today=TODAY)


@PROPERTIES
@given(regions, st.dates(date(1000, 1, 1), date(9999, 12, 31)), sequences)
def test_birth_dates_outside_1900_to_today_are_rejected(
    region: str, born: date, sequence: str
) -> None:
    assume(not EARLIEST_BIRTH <= born <= TODAY)
    with pytest.raises(ValueError, match="between 1900"):
        check_id_number(with_check(f"{region}{born:%Y%m%d}{sequence}"), today=TODAY)


@PROPERTIES
@given(valid_ids(), st.integers(0, 16), st.sampled_from(SCRIPTS))
def test_digits_of_other_scripts_are_not_digits(number: str, at: int, script: str) -> None:
    """The same value in another script: the check digit would still agree."""
    changed = number[:at] + script[int(number[at])] + number[at + 1 :]
    with pytest.raises(ValueError, match="17 digits"):
        check_id_number(changed, today=TODAY)


@PROPERTIES
@given(valid_ids())
def test_id_masking_keeps_region_and_last_four_only(number: str) -> None:
    masked = mask_id_number(number)
    assert masked == number[:6] + "*" * 8 + number[-4:]
    assert len(masked) == len(number)


@PROPERTIES
@given(st.text(max_size=40))
def test_id_masking_never_reveals_the_middle(value: str) -> None:
    masked = mask_id_number(value)
    assert len(masked) == len(value)
    if len(value) <= 10:
        assert set(masked) <= {"*"}
    else:
        assert masked[:6] == value[:6] and masked[-4:] == value[-4:]
        assert set(masked[6:-4]) == {"*"}


PHONE = re.compile(r"1[3-9][0-9]{9}")


@PROPERTIES
@given(st.from_regex(PHONE, fullmatch=True))
def test_mobile_numbers_are_accepted_and_masked(phone: str) -> None:
    assert check_phone(f" {phone} ") == phone
    masked = mask_phone(phone)
    assert masked == phone[:3] + "****" + phone[-4:]


@PROPERTIES
@given(
    st.one_of(
        st.text(alphabet=ASCII_DIGITS + FOREIGN_DIGITS + "+- X", max_size=14),
        st.from_regex(r"1[0-9]{10}", fullmatch=True),
        st.from_regex(PHONE, fullmatch=True).flatmap(
            lambda p: st.integers(2, 10).map(lambda i: p[:i] + "٥" + p[i + 1 :])
        ),
        st.text(max_size=14),
    )
)
def test_phone_accepted_exactly_when_it_matches(value: str) -> None:
    """Accepted iff the stripped value is 1, then 3-9, then nine ASCII digits."""
    matches = PHONE.fullmatch(value.strip()) is not None
    try:
        check_phone(value)
    except ValueError:
        assert not matches, value
    else:
        assert matches, value
