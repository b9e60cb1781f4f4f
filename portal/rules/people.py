"""A person as entered on a form (经办人证件号、姓名及联系电话): validated, normalized."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from portal.errors import InvalidName
from portal.rules import idcard, phone

ID_TYPES = ("居民身份证",)


@dataclass(frozen=True)
class PersonInput:
    id_number: str
    name: str
    phone: str


def clean_name(name: str) -> str:
    """A name of 1-32 characters with no control characters."""
    value = " ".join(name.split())
    if not value or len(value) > 32 or not value.isprintable():
        raise InvalidName(str(len(value)))
    return value


def validate(id_number: str, name: str, phone_no: str, *, today: dt.date) -> PersonInput:
    """Seed 000 §3.1.1 (1): 准确输入经办人证件号、姓名及联系电话."""
    return PersonInput(
        id_number=idcard.validate(id_number, today=today),
        name=clean_name(name),
        phone=phone.validate(phone_no),
    )
