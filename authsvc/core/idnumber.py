"""GB 11643-1999 citizen ID numbers: 17 digits, then a check character (0-9 or X)."""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")  # ASCII digits only: one spelling per person


def check_character(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid(number: str, *, today: dt.date | None = None) -> bool:
    """Shape, a real birth date not in the future (nor before 1900), and the check character."""
    number = number.upper()
    if not _SHAPE.match(number):
        return False
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > (today or dt.date.today()):
        return False
    return check_character(number[:17]) == number[17]


def mask(number: str) -> str:
    """2301**********1236."""
    return (
        number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)
    )


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else "*" * len(phone)
