"""The core system's interface: what the portal reads from it and asks it to change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from portal.rules.enrolment import PersonFacts
from portal.rules.fields import PersonRow


@dataclass(frozen=True)
class RosterEntry:
    """One line of a unit's 参保人员花名册."""

    id_number: str
    name: str
    unit_no: str
    insurance_type: str
    state: str
    start_month: dt.date
    end_month: dt.date | None
    base: int


@dataclass(frozen=True)
class UnitInfo:
    unit_no: str
    address: str
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class Change:
    """An approved application, as the core system executes it."""

    application_id: int
    item_code: str
    unit_no: str
    insurance_type: str
    persons: tuple[PersonRow, ...] = ()
    form: dict[str, Any] = field(default_factory=dict)
    rollback_of: int | None = None  # the application whose changes 人员变更回退 undoes


class CoreSystem(Protocol):
    async def facts(self, id_numbers: Collection[str]) -> dict[str, PersonFacts]:
        """What the core knows about each ID number (empty facts when nothing)."""
        ...

    async def roster(
        self, unit_nos: Collection[str], insurance_types: Collection[tuple[str, str]] | None
    ) -> list[RosterEntry]:
        """The insured persons of these units; `insurance_types` limits to (unit, type)."""
        ...

    async def unit(self, unit_no: str) -> UnitInfo | None: ...

    async def execute(self, change: Change, now: dt.datetime) -> int:
        """Apply an approved application; returns the number of rows changed.
        Raises CoreRejected when the core's state no longer allows it."""
        ...

    async def has_changes(self, application_id: int) -> bool:
        """Whether the application changed something that is not rolled back yet."""
        ...
