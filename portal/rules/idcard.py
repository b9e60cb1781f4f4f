"""GB 11643-1999 citizen identity numbers (公民身份号码), checked with python-stdnum's
`stdnum.cn.ric` (the ISO 7064 MOD 11-2 check digit and the birth date).

Only ASCII digits (and a final X) are an ID number: `str.isdigit` also accepts ², ³ and other
scripts' digits, which are not the same number. stdnum's birth-place lookup is not used: it
refuses numbers issued under county codes its table does not list; the province check below is
the rule the service hall applies.

The one masking rule (the same in authsvc/core/idnumber.py): an ID number keeps its first four
and last four characters (2301**********1236); anything of eight characters or fewer is all
stars. A name keeps its first character and has one star per other character, at least one
(张*, 欧阳娜娜 → 欧***).
"""

from __future__ import annotations

import datetime as dt
import re

from stdnum.cn import ric

from portal.errors import InvalidIdNumber

_ASCII_DIGITS = re.compile(r"[0-9]+")
#: First two digits: the province-level division codes of GB/T 2260 (plus 71/81/82/83).
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


def check_digit(first17: str) -> str:
    """GB 11643 §5.2: ISO 7064 MOD 11-2 over the first 17 digits."""
    if len(first17) != 17 or not _ASCII_DIGITS.fullmatch(first17):
        raise ValueError("need 17 digits")
    return ric.calc_check_digit(first17 + "0")


def birth_date(id_number: str) -> dt.date | None:
    """The birth date in positions 7-14, or None when it is not a calendar date."""
    if not _ASCII_DIGITS.fullmatch(id_number[6:14]):
        return None
    try:
        return ric.get_birth_date(id_number)
    except ric.InvalidComponent:
        return None


def normalize(id_number: str) -> str:
    """Strip blanks and upper-case the check character (x → X)."""
    return id_number.strip().upper()


def problem(id_number: str, *, today: dt.date) -> str | None:
    """Why `id_number` is not a valid 18-character GB 11643 number, or None when it is."""
    if len(id_number) != 18:
        return "length"
    if not _ASCII_DIGITS.fullmatch(id_number[:17]) or id_number[17] not in "0123456789X":
        return "characters"
    if int(id_number[:2]) not in _PROVINCES:
        return "region"
    born = birth_date(id_number)
    if born is None or born.year < 1900 or born > today:
        return "birth_date"
    if check_digit(id_number[:17]) != id_number[17]:
        return "check_digit"
    return None


def is_valid(id_number: str, *, today: dt.date) -> bool:
    return problem(normalize(id_number), today=today) is None


def validate(id_number: str, *, today: dt.date) -> str:
    """The normalized number, or InvalidIdNumber (detail names the failed check)."""
    value = normalize(id_number)
    why = problem(value, today=today)
    if why is not None:
        raise InvalidIdNumber(why)
    return value


def mask(id_number: str) -> str:
    """2301**********1236 — what logs and pages may show (eight characters or fewer: all stars)."""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_name(name: str) -> str:
    """张* — the masked name of the house style."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""
