"""GB 32100-2015 unified social credit codes (统一社会信用代码); the check character is
python-stdnum's `stdnum.cn.uscc`.

The shape is GB 32100's own, not stdnum's `validate`: stdnum wants the first eight characters
to be digits, while GB 32100 §4.1 allows letters in positions 1-2 (登记管理部门代码 Y,
机构类别代码); positions 3-8 (the GB/T 2260 division code) are ASCII digits.
"""

from __future__ import annotations

import re

from stdnum.cn import uscc

from portal.errors import InvalidCreditCode

#: The 31 characters of GB 32100 (no I, O, S, V, Z).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_REGION = re.compile(r"[0-9]{6}")


def check_character(first17: str) -> str:
    """GB 32100 §4.3: weighted sum modulo 31 over the first 17 characters."""
    if len(first17) != 17 or any(c not in ALPHABET for c in first17):
        raise ValueError("need 17 code characters")
    return uscc.calc_check_digit(first17)


def normalize(code: str) -> str:
    return code.strip().upper()


def problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if len(code) != 18:
        return "length"
    if any(c not in ALPHABET for c in code):
        return "characters"
    if not _REGION.fullmatch(code[2:8]):
        return "region"
    if check_character(code[:17]) != code[17]:
        return "check_character"
    return None


def is_valid(code: str) -> bool:
    return problem(normalize(code)) is None


def validate(code: str) -> str:
    """The normalized code, or InvalidCreditCode (detail names the failed check)."""
    value = normalize(code)
    why = problem(value)
    if why is not None:
        raise InvalidCreditCode(why)
    return value
