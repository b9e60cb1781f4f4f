"""GB 32100-2015 unified social credit codes (统一社会信用代码)."""

from __future__ import annotations

from portal.errors import InvalidCreditCode

#: The 31 characters of GB 32100 (no I, O, S, V, Z).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """GB 32100 §4.3: weighted sum modulo 31 over the first 17 characters."""
    if len(first17) != 17 or any(c not in ALPHABET for c in first17):
        raise ValueError("need 17 code characters")
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize(code: str) -> str:
    return code.strip().upper()


def problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if len(code) != 18:
        return "length"
    if any(c not in ALPHABET for c in code):
        return "characters"
    if not code[2:8].isdigit():
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
