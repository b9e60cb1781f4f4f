"""GB 11643-1999 citizen ID numbers (17 digits, then a check character 0-9 or X), checked with
python-stdnum's `stdnum.cn.ric` (ISO 7064 MOD 11-2 check digit, birth date); and the one rule
for masking personal data in logs, events and pages.

Only ASCII digits (and a final X) are an ID number: one spelling per person, so `²`, full-width
or other scripts' digits are refused before stdnum (whose `clean` would fold some of them) sees
the number. stdnum's birth-place lookup is not used: the e-card is issued for any region code.

Masking, the same in portal/rules/idcard.py: an ID number keeps its first four and last four
characters (2301**********1236), anything of eight characters or fewer is all stars; a name
keeps its first character and has one star per other character, at least one (张*).
"""

from __future__ import annotations

import datetime as dt
import re

from stdnum.cn import ric

_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")  # ASCII digits only: one spelling per person


def check_character(first17: str) -> str:
    """The GB 11643 §5.2 check character for 17 ASCII digits."""
    return ric.calc_check_digit(first17 + "0")


def is_valid(number: str, *, today: dt.date | None = None) -> bool:
    """Shape, a real birth date not in the future (nor before 1900), and the check character."""
    number = number.upper()
    if not _SHAPE.match(number):
        return False
    try:
        born = ric.get_birth_date(number)
    except ric.InvalidComponent:
        return False
    if born.year < 1900 or born > (today or dt.date.today()):
        return False
    return check_character(number[:17]) == number[17]


def mask(number: str) -> str:
    """2301**********1236; eight characters or fewer are all stars."""
    return (
        number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)
    )


def mask_name(name: str) -> str:
    """张*: the first character and one star per other character, at least one."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else "*" * len(phone)
