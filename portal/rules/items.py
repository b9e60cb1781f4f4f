"""Business items (业务事项): the 办事中心 catalogue (data/items.json) that grants name.

Seed 002 (开通多个经办人须知 三、业务授权): 经办人可办业务范围需法定代表人或管理员进行"授权".
Seed 000 第4章: each item has its 办理指南 (实施机构, 设定依据, 受理条件, 办理流程, 咨询方式,
办理时间) shown before 立即办理. The grant codes enrol, stop, base_adjust, certificate and
info_change are kept as they were: existing grants refer to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from portal.errors import UnknownBusinessItem

CATALOGUE = Path(__file__).parent.parent / "data" / "items.json"
GUIDE_PARTS: tuple[tuple[str, str, str], ...] = (
    ("agency", "实施机构", "Agency"),
    ("basis", "设定依据", "Legal basis"),
    ("conditions", "受理条件", "Conditions"),
    ("steps", "办理流程", "Steps"),
    ("contact", "咨询方式", "Contact"),
    ("time", "办理时间", "Time limit"),
)


@dataclass(frozen=True)
class Attachment:
    kind: str
    zh: str
    en: str
    required: bool


@dataclass(frozen=True)
class BusinessItem:
    code: str
    zh: str
    en: str
    kind: str = "apply"  # apply: a form that files an application; print: a document
    batch: bool = False
    insurance_types: tuple[str, ...] = ()  # empty: any relationship of the company
    person_fields: tuple[str, ...] = ()
    form_fields: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    guide: tuple[tuple[str, str, str, str, str], ...] = ()  # (key, zh label, en label, zh, en)

    @property
    def has_persons(self) -> bool:
        return bool(self.person_fields) or self.code in ("collect", "enrol", "stop")

    def allows(self, insurance_type: str) -> bool:
        return not self.insurance_types or insurance_type in self.insurance_types


def load(path: Path = CATALOGUE) -> tuple[BusinessItem, ...]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return tuple(_item(entry) for entry in raw["items"])


def _item(entry: dict[str, object]) -> BusinessItem:
    guide = entry.get("guide", {})
    assert isinstance(guide, dict)
    return BusinessItem(
        code=str(entry["code"]),
        zh=str(entry["zh"]),
        en=str(entry["en"]),
        kind=str(entry.get("kind", "apply")),
        batch=bool(entry.get("batch", False)),
        insurance_types=tuple(entry.get("insurance_types", ())),  # type: ignore[arg-type]
        person_fields=tuple(entry.get("person_fields", ())),  # type: ignore[arg-type]
        form_fields=tuple(entry.get("form_fields", ())),  # type: ignore[arg-type]
        attachments=tuple(
            Attachment(a["kind"], a["zh"], a["en"], bool(a.get("required", False)))
            for a in entry.get("attachments", ())  # type: ignore[attr-defined]
        ),
        guide=tuple((key, zh, en, *guide[key]) for key, zh, en in GUIDE_PARTS if key in guide),
    )


ITEMS: tuple[BusinessItem, ...] = load()
_BY_CODE = {item.code: item for item in ITEMS}


def get(code: str) -> BusinessItem:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise UnknownBusinessItem(code) from None


def validate(codes: list[str]) -> list[str]:
    """The codes, deduplicated in catalogue order, or UnknownBusinessItem."""
    wanted = set(codes)
    for code in wanted:
        get(code)
    return [item.code for item in ITEMS if item.code in wanted]
