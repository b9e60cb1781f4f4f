"""What agency staff (经办机构工作人员) see at the counter: the companies their agency serves.

Issue 8: the counter pages show only the companies of the staff member's own agency, and staff
grant only the insurance relationships kept at that agency (seed 000 §3.1.2 窗口授权: the
relationships listed are the company's 参保关系 at the handling agency).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from portal.errors import RelationshipNotFound


class HasAgency(Protocol):
    @property
    def agency(self) -> str: ...


R = TypeVar("R", bound=HasAgency)


def at_agency(agency: str, relationships: Iterable[R]) -> list[R]:
    """The relationships kept at `agency` (none for an empty agency)."""
    return [r for r in relationships if agency and r.agency == agency]


def serves(agency: str, relationships: Iterable[HasAgency]) -> bool:
    """Whether `agency` keeps at least one of these relationships."""
    return bool(at_agency(agency, relationships))


def check_grantable(agency: str, wanted: Iterable[int], own: dict[int, HasAgency]) -> None:
    """Every id in `wanted` must be one of the company's relationships at `agency`."""
    foreign = sorted(i for i in wanted if i not in own or own[i].agency != agency)
    if foreign:
        raise RelationshipNotFound(str(foreign))
