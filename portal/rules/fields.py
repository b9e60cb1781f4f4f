"""The fields of the business forms: per person (rows) and per application, validated.

An item (data/items.json) names the fields it uses; each field here knows its label, its
kind and how to clean a value. Values are stored as strings / ints in the application's JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from portal.errors import InvalidBase, InvalidField, InvalidMonth, PersonsRequired
from portal.rules import idcard, phone
from portal.rules.people import clean_name

HUKOU_TYPES = ("城镇", "农村")
STOP_REASONS = ("解除劳动合同", "终止劳动合同", "辞职", "其他")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SERIAL = re.compile(r"^\d{8,24}$")
MAX_PERSONS = 200


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    en: str
    kind: str  # month | base | choice | text | phone | serial
    required: bool = True
    choices: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("hukou", "户籍性质", "Household type", "choice", choices=HUKOU_TYPES),
        Field("phone", "联系电话", "Phone", "phone", required=False),
        Field("start_month", "参保开始月份", "Start month", "month"),
        Field("base", "缴费基数（元）", "Contribution base (yuan)", "base"),
        Field("stop_month", "停保月份", "Stop month", "month"),
        Field("stop_reason", "停保原因", "Reason", "choice", choices=STOP_REASONS),
        Field("address", "单位地址", "Address", "text"),
        Field("contact_name", "单位联系人", "Contact person", "text"),
        Field("contact_phone", "联系电话", "Contact phone", "phone"),
        Field("target_serial", "需回退业务的受理流水号", "Serial number to roll back", "serial"),
        Field("rollback_reason", "回退原因", "Reason", "text"),
    )
}


@dataclass(frozen=True)
class PersonRow:
    """One person of an application as entered: ID number, name, the item's fields."""

    id_number: str
    name: str
    data: dict[str, str | int]


def parse_month(value: str) -> dt.date:
    """`2026-11` → the first day of that month, or InvalidMonth."""
    match = _MONTH.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1990:
        raise InvalidMonth(value[:10])
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def clean(field: Field, raw: str) -> str | int:
    """A field's cleaned value, or its coded error. Empty optional fields give ""."""
    value = " ".join(raw.split())
    if not value:
        if field.required:
            raise InvalidField(field.name)
        return ""
    if field.kind == "month":
        return parse_month(value).strftime("%Y-%m")
    if field.kind == "base":
        if not value.isdigit() or not 1 <= int(value) <= 999_999:
            raise InvalidBase(value[:8])
        return int(value)
    if field.kind == "choice" and value not in field.choices:
        raise InvalidField(field.name)
    if field.kind == "phone":
        return phone.validate(value)
    if field.kind == "serial" and not _SERIAL.match(value):
        raise InvalidField(field.name)
    if len(value) > 128:
        raise InvalidField(field.name)
    return value


def clean_form(names: tuple[str, ...], values: dict[str, str]) -> dict[str, str | int]:
    return {name: clean(FIELDS[name], values.get(name, "")) for name in names}


def clean_rows(
    names: tuple[str, ...], rows: list[dict[str, str]], *, today: dt.date
) -> list[PersonRow]:
    """The non-empty rows, validated; at least one (PersonsRequired)."""
    cleaned = []
    for row in rows:
        if not any(v.strip() for v in row.values()):
            continue
        cleaned.append(
            PersonRow(
                id_number=idcard.validate(row.get("id_number", ""), today=today),
                name=clean_name(row.get("name", "")),
                data={name: clean(FIELDS[name], row.get(name, "")) for name in names},
            )
        )
    if not cleaned:
        raise PersonsRequired()
    if len(cleaned) > MAX_PERSONS:
        raise InvalidField("too many rows")
    return cleaned
