"""One masking rule for personal data, the same in authsvc (and mobile_sim, which uses it) and in
the portal, which may not import authsvc: 2301**********1236 and 张*."""

from __future__ import annotations

import datetime as dt

import pytest

from authsvc.core import idnumber, tickets
from portal.rules import idcard

IDS = [
    ("230102197503121019", "2301**********1019"),
    ("11010519491231002X", "1101**********002X"),
    ("123456789", "1234*6789"),
    ("12345678", "********"),
    ("1234", "****"),
    ("", ""),
]
NAMES = [("张三", "张*"), ("欧阳娜娜", "欧***"), ("张", "张*"), ("", "")]


@pytest.mark.parametrize(("number", "masked"), IDS)
def test_id_numbers_are_masked_alike(number: str, masked: str) -> None:
    """First four and last four characters; eight or fewer are all stars, in both packages."""
    assert idnumber.mask(number) == idcard.mask(number) == masked


@pytest.mark.parametrize(("name", "masked"), NAMES)
def test_names_are_masked_alike(name: str, masked: str) -> None:
    """The first character and one star per other character, at least one."""
    assert idnumber.mask_name(name) == tickets.mask_name(name) == idcard.mask_name(name) == masked


@pytest.mark.parametrize(
    "number", ["230102197503121019", "11010519491231002X", "440304200002290014"]
)
def test_both_packages_agree_on_valid_numbers(number: str) -> None:
    """The same GB 11643 number is valid in authsvc and the portal (both through stdnum)."""
    today = dt.date(2026, 12, 1)
    assert idnumber.is_valid(number, today=today) and idcard.is_valid(number, today=today)
