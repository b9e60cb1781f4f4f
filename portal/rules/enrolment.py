"""Per-person checks against the core system's facts, raising the seeds' coded errors.

Seed 003 三、1 常见报错内容: 未获取到人员基本信息; 该人员为灵活就业参保人员; 养老已参保，不能再
办理参保; 根据身份证号码找到多条人员信息，无法办理此业务; 户籍性质为空; 自参保开始日期下一月起，
存在失业金发放信息. Seed 003 三、1 (2): 网报系统可以从实际操作月往前补六个月.
Pure: the facts are read by portal.coresys, the month is today's in Beijing time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from portal.errors import (
    AlreadyInsured,
    BackdateLimit,
    BaseNotHigher,
    BenefitsPaid,
    DuplicatePerson,
    FlexibleEmployment,
    HukouMissing,
    InvalidMonth,
    NotInsuredHere,
    PensionAlreadyInsured,
    PersonExists,
    PersonNameMismatch,
    PersonNotCollected,
    PortalError,
)
from portal.rules.fields import PersonRow, parse_month

MAX_BACKDATE_MONTHS = 6
PENSION_TYPES = frozenset({"企业职工基本养老保险", "机关事业单位养老保险"})
ACTIVE = "active"


@dataclass(frozen=True)
class CoreRecord:
    """人员基础信息 as the core system holds it."""

    person_id: int
    id_number: str
    name: str
    hukou: str
    flexible: bool


@dataclass(frozen=True)
class Coverage:
    """One insurance relationship of a person (参保信息)."""

    person_id: int
    unit_no: str
    insurance_type: str
    state: str
    start_month: dt.date
    base: int


@dataclass(frozen=True)
class PersonFacts:
    """Everything the core system knows about one ID number."""

    records: tuple[CoreRecord, ...] = ()
    coverages: tuple[Coverage, ...] = ()
    benefit_months: tuple[dt.date, ...] = ()

    def active(self, unit_no: str, insurance_type: str) -> Coverage | None:
        for c in self.coverages:
            if c.state == ACTIVE and c.unit_no == unit_no and c.insurance_type == insurance_type:
                return c
        return None


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _one_record(facts: PersonFacts, row: PersonRow) -> CoreRecord:
    if not facts.records:
        raise PersonNotCollected()
    if len(facts.records) > 1:
        raise DuplicatePerson(str(len(facts.records)))
    record = facts.records[0]
    if record.name != row.name:
        raise PersonNameMismatch()
    return record


def _in_range(month: dt.date, this_month: dt.date) -> None:
    if not add_months(this_month, -MAX_BACKDATE_MONTHS) <= month <= this_month:
        raise BackdateLimit(month.isoformat())


def check_collect(facts: PersonFacts, row: PersonRow) -> None:
    if facts.records:
        raise PersonExists()


def check_enrol(
    facts: PersonFacts,
    row: PersonRow,
    unit_no: str,
    insurance_type: str,
    this_month: dt.date | None,
) -> None:
    """用人单位用工参保登记, in the seed's order of 常见报错. `this_month` None (at approval)
    skips the six-month range, which holds at submission."""
    start = parse_month(str(row.data["start_month"]))
    if this_month is not None:
        _in_range(start, this_month)
    record = _one_record(facts, row)
    if not record.hukou.strip():
        raise HukouMissing()
    if record.flexible:
        raise FlexibleEmployment()
    if insurance_type in PENSION_TYPES:
        if any(c.state == ACTIVE and c.insurance_type in PENSION_TYPES for c in facts.coverages):
            raise PensionAlreadyInsured()
    elif any(c.state == ACTIVE and c.insurance_type == insurance_type for c in facts.coverages):
        raise AlreadyInsured(insurance_type)
    if any(month > start for month in facts.benefit_months):
        raise BenefitsPaid()


def check_stop(
    facts: PersonFacts,
    row: PersonRow,
    unit_no: str,
    insurance_type: str,
    this_month: dt.date | None,
) -> None:
    """用人单位退工停保登记: an active relationship here; the stop month after its start."""
    month = parse_month(str(row.data["stop_month"]))
    if this_month is not None:
        _in_range(month, add_months(this_month, 1))
    _one_record(facts, row)
    coverage = facts.active(unit_no, insurance_type)
    if coverage is None:
        raise NotInsuredHere()
    if month < coverage.start_month:
        raise InvalidMonth("stop before start")


def check_base(
    facts: PersonFacts,
    row: PersonRow,
    unit_no: str,
    insurance_type: str,
    this_month: dt.date | None,
) -> None:
    """缴费基数调整（上调）: an active relationship here and a higher base."""
    _one_record(facts, row)
    coverage = facts.active(unit_no, insurance_type)
    if coverage is None:
        raise NotInsuredHere()
    if int(row.data["base"]) <= coverage.base:
        raise BaseNotHigher()


def check_row(
    item_code: str,
    facts: PersonFacts,
    row: PersonRow,
    unit_no: str,
    insurance_type: str,
    this_month: dt.date | None,
) -> PortalError | None:
    """The row's error for `item_code`, or None when the row may be filed."""
    try:
        if item_code == "collect":
            check_collect(facts, row)
        elif item_code == "enrol":
            check_enrol(facts, row, unit_no, insurance_type, this_month)
        elif item_code == "stop":
            check_stop(facts, row, unit_no, insurance_type, this_month)
        elif item_code == "base_adjust":
            check_base(facts, row, unit_no, insurance_type, this_month)
    except PortalError as error:
        return error
    return None
