"""The application (办件) state machine: pure transitions of `(status, operation, who)`.

Seed 001: item 3 (保存后未提交 → 我的待提交业务), 19/28 (撤回 only before a reviewer has it;
afterwards only the reviewer can return it), 21/51 (a returned or withdrawn application is
never reopened, it is filed again), 5/20.1 (the reviewer of a returned node is named).
Like authsvc/core/ticket.py: no I/O; the service writes the result with a compare-and-set
on `version`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from portal.errors import (
    ApplicationFinal,
    ApplicationState,
    NotReviewer,
    OwnApplication,
    PortalError,
    ReasonRequired,
    WithdrawRefused,
)

MAX_REASON = 500


class State(StrEnum):
    DRAFT = "draft"  # 待提交
    SUBMITTED = "submitted"  # 已提交
    ACCEPTED = "accepted"  # 已受理
    REVIEWING = "reviewing"  # 审核中
    DONE = "done"  # 已办结
    RETURNED = "returned"  # 已退回
    WITHDRAWN = "withdrawn"  # 已撤回


STATE_LABELS: dict[State, tuple[str, str]] = {
    State.DRAFT: ("待提交", "Draft"),
    State.SUBMITTED: ("已提交", "Submitted"),
    State.ACCEPTED: ("已受理", "Accepted"),
    State.REVIEWING: ("审核中", "Under review"),
    State.DONE: ("已办结", "Completed"),
    State.RETURNED: ("已退回", "Returned"),
    State.WITHDRAWN: ("已撤回", "Withdrawn"),
}
FINAL = frozenset({State.DONE, State.RETURNED, State.WITHDRAWN})
#: Nobody at the agency holds these yet: the filer may still withdraw (seed 001 item 28).
UNCLAIMED = frozenset({State.SUBMITTED, State.ACCEPTED})
IN_FLIGHT = frozenset({State.SUBMITTED, State.ACCEPTED, State.REVIEWING})


class Op(StrEnum):
    SAVE = "save"  # 保存 (to 待提交)
    SUBMIT = "submit"  # 提交
    ACCEPT = "accept"  # 受理
    PICKUP = "pickup"  # 领取审核
    APPROVE = "approve"  # 审核通过 → 办结
    RETURN = "return"  # 退回
    WITHDRAW = "withdraw"  # 撤回


_NEXT: dict[tuple[State, Op], State] = {
    (State.DRAFT, Op.SUBMIT): State.SUBMITTED,
    (State.DRAFT, Op.WITHDRAW): State.WITHDRAWN,
    (State.SUBMITTED, Op.ACCEPT): State.ACCEPTED,
    (State.SUBMITTED, Op.PICKUP): State.REVIEWING,
    (State.ACCEPTED, Op.PICKUP): State.REVIEWING,
    (State.SUBMITTED, Op.WITHDRAW): State.WITHDRAWN,
    (State.ACCEPTED, Op.WITHDRAW): State.WITHDRAWN,
    (State.REVIEWING, Op.APPROVE): State.DONE,
    (State.REVIEWING, Op.RETURN): State.RETURNED,
}
STAFF_OPS = frozenset({Op.ACCEPT, Op.PICKUP, Op.APPROVE, Op.RETURN})


@dataclass(frozen=True)
class Who:
    """The person asking: their ID number and name (the filer's side or agency staff)."""

    id_number: str
    name: str


@dataclass(frozen=True)
class Status:
    """What the state machine needs of an application."""

    state: State
    filer_id_number: str
    reviewer_id_number: str | None = None
    reviewer_name: str | None = None
    return_reason: str | None = None
    submitted_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    picked_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None


def withdraw_refused(reviewer_name: str) -> PortalError:
    """Seed 001 item 28 (2): the answer names the reviewer who holds the application."""
    error = WithdrawRefused(f"held by {reviewer_name[:1]}*")
    error.zh = f"该业务已由经办人员{reviewer_name}办理，只能联系经办人员{reviewer_name}退回"
    error.en = f"{reviewer_name} at the agency has picked this up; only they can return it"
    return error


def step(status: Status, op: Op, who: Who, now: dt.datetime, *, reason: str = "") -> Status:
    """The status after `op` by `who` at `now`, or the documented error."""
    _check(status, op, who, reason)
    new = replace(status, state=_NEXT[(status.state, op)])
    if op is Op.SUBMIT:
        return replace(new, submitted_at=now)
    if op is Op.ACCEPT:
        return replace(new, accepted_at=now)
    if op is Op.PICKUP:
        return replace(
            new,
            accepted_at=status.accepted_at or now,
            picked_at=now,
            reviewer_id_number=who.id_number,
            reviewer_name=who.name,
        )
    if op is Op.RETURN:
        return replace(new, decided_at=now, return_reason=reason.strip()[:MAX_REASON])
    return replace(new, decided_at=now) if op in (Op.APPROVE, Op.WITHDRAW) else new


def _check(status: Status, op: Op, who: Who, reason: str) -> None:
    if op in STAFF_OPS and who.id_number == status.filer_id_number:
        raise OwnApplication(str(op))
    if (status.state, op) in _NEXT:
        if op in (Op.APPROVE, Op.RETURN) and status.reviewer_id_number != who.id_number:
            raise NotReviewer(str(op))
        if op is Op.RETURN and not reason.strip():
            raise ReasonRequired()
        return
    if op is Op.WITHDRAW and status.state is State.REVIEWING:
        raise withdraw_refused(status.reviewer_name or "")
    if op is Op.PICKUP and status.state is State.REVIEWING:
        raise NotReviewer("already picked up")
    if status.state in (State.RETURNED, State.WITHDRAWN):
        raise ApplicationFinal(f"{status.state} {op}")
    raise ApplicationState(f"{status.state} {op}")


@dataclass(frozen=True)
class Node:
    """One circle of the timeline: done (green), current (blue), pending (grey), returned (red)."""

    key: str
    zh: str
    en: str
    kind: str
    at: dt.datetime | None = None
    who: str = ""
    reason: str = ""


_NODES = (
    ("filed", "申报", "Filed"),
    ("accepted", "受理", "Accepted"),
    ("review", "审核", "Review"),
    ("done", "办结", "Completed"),
)


def timeline(status: Status, filer_name: str = "") -> list[Node]:
    """Seed 001 item 5 (4): the nodes of an application, coloured by its state."""
    state = status.state
    reached = {
        State.DRAFT: 0,
        State.SUBMITTED: 1,
        State.ACCEPTED: 2,
        State.REVIEWING: 2,
        State.DONE: 4,
        State.RETURNED: 2,
        State.WITHDRAWN: 1,
    }[state]
    times = (status.submitted_at, status.accepted_at, status.picked_at, status.decided_at)
    nodes = []
    for index, (key, zh, en) in enumerate(_NODES):
        kind = "done" if index < reached else "current" if index == reached else "pending"
        who = filer_name if index == 0 else status.reviewer_name or "" if index >= 2 else ""
        at = times[index] if kind == "done" else None
        if index == 2 and state is State.REVIEWING:
            at = status.picked_at
        if index == reached and state is State.RETURNED:
            kind, at = "returned", status.decided_at
        if index == reached and state is State.WITHDRAWN:
            kind, at, zh, en, who = "returned", status.decided_at, "撤回", "Withdrawn", filer_name
        nodes.append(
            Node(
                key,
                zh,
                en,
                kind,
                at,
                who,
                status.return_reason or "" if kind == "returned" and key == "review" else "",
            )
        )
    return nodes
