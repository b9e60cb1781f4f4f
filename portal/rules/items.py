"""Business items (业务事项) that a grant may name besides insurance relationships.

Seed 002 (开通多个经办人须知 三、业务授权): 经办人可办业务范围需法定代表人或管理员进行"授权".
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.errors import UnknownBusinessItem


@dataclass(frozen=True)
class BusinessItem:
    code: str
    zh: str
    en: str


ITEMS: tuple[BusinessItem, ...] = (
    BusinessItem("enrol", "参保登记", "Employee enrolment"),
    BusinessItem("stop", "停保登记", "Stop insurance"),
    BusinessItem("base_adjust", "缴费基数申报", "Contribution base declaration"),
    BusinessItem("certificate", "单位参保证明打印", "Company insurance certificate"),
    BusinessItem("info_change", "单位信息变更", "Company details change"),
)
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
