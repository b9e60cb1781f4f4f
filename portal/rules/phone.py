"""Contact numbers for agents (经办人联系电话): a mainland mobile or a landline with area code."""

from __future__ import annotations

import re

from portal.errors import InvalidPhone

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")


def is_valid(phone: str) -> bool:
    value = phone.strip()
    return bool(_MOBILE.fullmatch(value) or _LANDLINE.fullmatch(value))


def validate(phone: str) -> str:
    value = phone.strip()
    if not is_valid(value):
        raise InvalidPhone(value[:3])
    return value


def mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else phone
