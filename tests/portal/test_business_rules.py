"""Pure business rules: the window's edges, the application state machine, the timeline,
and the per-person checks behind the seeds' errors (seed 001 items 5, 28, 41, 51; seed 003)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal import errors
from portal.rules import window
from portal.rules.applications import Op, State, Status, Who, step, timeline
from portal.rules.enrolment import CoreRecord, Coverage, PersonFacts, check_row
from portal.rules.fields import PersonRow

WINDOW = window.Window()
FILER = Who("230104199001051235", "张伟")
STAFF = Who("230103198506141673", "孙丽")
OTHER = Who("230102199504021561", "陈静")
NOW = dt.datetime(2026, 12, 10, 2, 0)


def beijing(*args: int) -> dt.datetime:
    """A Beijing wall-clock time as the naive UTC the portal's clock gives."""
    return dt.datetime(*args) - dt.timedelta(hours=8)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (beijing(2026, 12, 5, 8, 59, 59), False),
        (beijing(2026, 12, 5, 9, 0, 0), True),
        (beijing(2026, 12, 25, 16, 59, 59), True),
        (beijing(2026, 12, 25, 17, 0, 0), False),
        (beijing(2026, 12, 1, 12, 0), False),
        (beijing(2026, 12, 28, 9, 0), False),
    ],
)
def test_window_edges_in_beijing_time(moment: dt.datetime, is_open: bool) -> None:
    """5th 09:00 opens (inclusive), 25th 17:00 closes (exclusive), in Asia/Shanghai."""
    assert WINDOW.is_open(moment) is is_open


def test_window_is_configurable_and_checked() -> None:
    """'1 00:00-31 23:59' is almost always open; nonsense is refused at start-up."""
    assert window.parse("1 00:00-31 23:59").is_open(beijing(2026, 12, 28, 9, 0))
    for bad in ("5 09:00", "25 17:00-5 09:00", "5 9:00-25 17:00 x"):
        with pytest.raises(ValueError):
            window.parse(bad)


def _at(state: State, reviewer: Who | None = None) -> Status:
    return Status(
        state,
        FILER.id_number,
        reviewer.id_number if reviewer else None,
        reviewer.name if reviewer else None,
    )


TABLE = [
    (State.DRAFT, Op.SUBMIT, FILER, None, State.SUBMITTED),
    (State.SUBMITTED, Op.WITHDRAW, FILER, None, State.WITHDRAWN),
    (State.ACCEPTED, Op.WITHDRAW, FILER, None, State.WITHDRAWN),
    (State.REVIEWING, Op.WITHDRAW, FILER, "withdraw_refused", None),
    (State.SUBMITTED, Op.ACCEPT, STAFF, None, State.ACCEPTED),
    (State.SUBMITTED, Op.PICKUP, STAFF, None, State.REVIEWING),
    (State.ACCEPTED, Op.PICKUP, STAFF, None, State.REVIEWING),
    (State.SUBMITTED, Op.PICKUP, FILER, "own_application", None),
    (State.REVIEWING, Op.PICKUP, OTHER, "not_reviewer", None),
    (State.REVIEWING, Op.APPROVE, STAFF, None, State.DONE),
    (State.REVIEWING, Op.APPROVE, OTHER, "not_reviewer", None),
    (State.SUBMITTED, Op.APPROVE, STAFF, "application_state", None),
    (State.RETURNED, Op.SUBMIT, FILER, "application_final", None),
    (State.WITHDRAWN, Op.SUBMIT, FILER, "application_final", None),
    (State.WITHDRAWN, Op.WITHDRAW, FILER, "application_final", None),
    (State.DONE, Op.WITHDRAW, FILER, "application_state", None),
]


@pytest.mark.parametrize(("state", "op", "who", "code", "after"), TABLE)
def test_state_machine(state: State, op: Op, who: Who, code: str | None, after: State) -> None:
    """Every state × operation either moves as seed 001 says or raises its coded error."""
    reviewer = STAFF if state is State.REVIEWING else None
    if code is None:
        assert step(_at(state, reviewer), op, who, NOW).state is after
    else:
        with pytest.raises(errors.PortalError) as raised:
            step(_at(state, reviewer), op, who, NOW)
        assert raised.value.code == code


def test_withdraw_refusal_names_the_reviewer() -> None:
    """Seed 001 item 28: after pickup, the answer names who holds the application."""
    with pytest.raises(errors.WithdrawRefused) as raised:
        step(_at(State.REVIEWING, STAFF), Op.WITHDRAW, FILER, NOW)
    assert "孙丽" in raised.value.body()["message"]["zh"]  # type: ignore[index]


def test_return_needs_a_reason_and_the_timeline_shows_it_red() -> None:
    """A returned node is red, with its reason and reviewer; earlier nodes green."""
    with pytest.raises(errors.ReasonRequired):
        step(_at(State.REVIEWING, STAFF), Op.RETURN, STAFF, NOW, reason="  ")
    returned = step(_at(State.REVIEWING, STAFF), Op.RETURN, STAFF, NOW, reason="材料不全")
    nodes = timeline(returned, "张伟")
    assert [n.kind for n in nodes] == ["done", "done", "returned", "pending"]
    assert nodes[2].reason == "材料不全" and nodes[2].who == "孙丽"
    submitted = timeline(step(_at(State.DRAFT), Op.SUBMIT, FILER, NOW))
    assert [n.kind for n in submitted] == ["done", "current", "pending", "pending"]


ID = "230104199602185124"
ROW = PersonRow(ID, "冯晓东", {"start_month": "2026-10", "base": 5000})
RECORD = CoreRecord(1, ID, "冯晓东", "城镇", False)
PENSION = "企业职工基本养老保险"
DECEMBER = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("facts", "row", "code"),
    [
        (PersonFacts(), ROW, "person_not_collected"),
        (PersonFacts((RECORD, RECORD)), ROW, "duplicate_person"),
        (PersonFacts((CoreRecord(1, ID, "冯晓东", "", False),)), ROW, "hukou_missing"),
        (PersonFacts((CoreRecord(1, ID, "冯晓东", "城镇", True),)), ROW, "flexible_employment"),
        (
            PersonFacts((RECORD,), (Coverage(1, "X", PENSION, "active", DECEMBER, 1),)),
            ROW,
            "pension_already_insured",
        ),
        (PersonFacts((RECORD,), (), (dt.date(2026, 11, 1),)), ROW, "benefits_paid"),
        (PersonFacts((RECORD,), (), (dt.date(2026, 10, 1),)), ROW, None),
        (PersonFacts((RECORD,)), PersonRow(ID, "冯晓冬", ROW.data), "person_name_mismatch"),
        (
            PersonFacts((RECORD,)),
            PersonRow(ID, "冯晓东", {**ROW.data, "start_month": "2026-05"}),
            "backdate_limit",
        ),
        (
            PersonFacts((RECORD,)),
            PersonRow(ID, "冯晓东", {**ROW.data, "start_month": "2026-06"}),
            None,
        ),
        (
            PersonFacts((RECORD,)),
            PersonRow(ID, "冯晓东", {**ROW.data, "start_month": "2027-01"}),
            "backdate_limit",
        ),
    ],
)
def test_enrolment_checks(facts: PersonFacts, row: PersonRow, code: str | None) -> None:
    """Seed 003 常见报错, and six months back at most (a benefit in the start month is fine)."""
    error = check_row("enrol", facts, row, "23010010001", PENSION, DECEMBER)
    assert (error.code if error else None) == code
