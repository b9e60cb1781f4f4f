"""GB 11643-1999 citizen ID numbers (authsvc/core/idnumber.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authsvc.core import idnumber

TODAY = dt.date(2025, 6, 1)
FUZZ = settings(max_examples=300, deadline=None, database=None)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),  # check character X
        ("11010519491231002x", True),  # lower-case x is the same number
        ("110105194912310038", True),
        ("44030420000229001" + "4", True),  # 29 February of a leap year
        ("11010519000101001X", True),  # 1900 is the earliest year
        ("110105194912310020", False),  # wrong check character (X expected)
        ("110105194912310039", False),  # wrong check digit
        ("11010519490230002" + "X", False),  # 30 February
        ("44030419000229001" + "0", False),  # 1900 was not a leap year
        ("11010518991231002" + "X", False),  # before 1900
        ("11010520991231001" + "0", False),  # in the future
        ("11010519491331002X", False),  # month 13
        ("11010519491200002X", False),  # day 0
        ("11010519491231002", False),  # 17 characters
        ("11010519491231002XX", False),  # 19 characters
        ("110105491231002", False),  # the old 15-digit form
        ("01010519491231002X", False),  # leading zero
        ("1101051949123100X2", False),  # X not last
        ("11010519491231002Y", False),
        ("１１０１０５１９４９１２３１００２Ｘ", False),  # full-width digits
        ("", False),
        (" 11010519491231002X", False),
    ],
)
def test_is_valid(number: str, valid: bool) -> None:
    """Shape, a real birth date between 1900 and today, and the ISO 7064 check character."""
    assert idnumber.is_valid(number, today=TODAY) is valid


def test_birth_date_today_is_valid_and_tomorrow_is_not() -> None:
    """The future check is against the given `today`, inclusive."""
    first17 = "110105" + TODAY.strftime("%Y%m%d") + "001"
    tomorrow = "110105" + (TODAY + dt.timedelta(days=1)).strftime("%Y%m%d") + "001"
    assert idnumber.is_valid(first17 + idnumber.check_character(first17), today=TODAY)
    assert not idnumber.is_valid(tomorrow + idnumber.check_character(tomorrow), today=TODAY)


@FUZZ
@given(
    st.integers(1, 9),
    st.integers(0, 99_999),
    st.dates(dt.date(1900, 1, 1), TODAY),
    st.integers(0, 999),
    st.sampled_from(list("0123456789X")),
)
def test_exactly_one_check_character_is_valid(
    first: int,
    region: int,
    born: dt.date,
    sequence: int,
    check: str,
) -> None:
    """For any well-formed first 17 characters, exactly the computed check character is valid."""
    first17 = f"{first}{region:05d}{born:%Y%m%d}{sequence:03d}"
    expected = idnumber.check_character(first17)
    assert idnumber.is_valid(first17 + check, today=TODAY) is (check == expected)


def _digits(shift: int) -> str:
    """11010519491231002X with every digit after the first moved to another Unicode digit block."""
    return "1" + "".join(chr(ord(c) - ord("0") + shift) for c in "1010519491231002") + "X"


@pytest.mark.parametrize(
    "number",
    [_digits(0xFF10), _digits(0x0660), _digits(0x0966)],
    ids=["fullwidth", "arabic-indic", "devanagari"],
)
def test_only_ascii_digits_are_valid(number: str) -> None:
    """An ID number is ASCII digits (and X); other scripts' digits are not the same number."""
    assert not idnumber.is_valid(number, today=TODAY)


@FUZZ
@given(st.text(max_size=25))
def test_is_valid_never_raises(number: str) -> None:
    """Any text is simply valid or not."""
    assert idnumber.is_valid(number, today=TODAY) in (True, False)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("12345678", "********"),
        ("", ""),
    ],
)
def test_mask(number: str, masked: str) -> None:
    """Only the first four and last four characters stay visible."""
    assert idnumber.mask(number) == masked


@pytest.mark.parametrize(("phone", "masked"), [("13800138000", "138****8000"), ("123", "***")])
def test_mask_phone(phone: str, masked: str) -> None:
    """Phone numbers keep their first three and last four digits."""
    assert idnumber.mask_phone(phone) == masked
