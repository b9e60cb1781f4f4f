"""The e-card rules every embedded backend applies inside its own atomic step (Redis does the
same in lua/issue_card.lua and lua/set_card_status.lua). No I/O."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from authsvc.store.base import BLOCKED, BLOCKING_STATUSES, CONFLICT, ISSUED


def issue(
    current_no: str, old: dict[str, Any] | None, *, expected: str, now: float
) -> tuple[str, dict[str, Any] | None]:
    """The outcome, and the old card's new record when it is to be cancelled."""
    if current_no != expected:
        return CONFLICT, None
    if old is None:
        return ISSUED, None
    if old.get("status") in BLOCKING_STATUSES:
        return BLOCKED, None
    if old.get("status") == "cancelled":
        return ISSUED, None
    return ISSUED, {**old, "status": "cancelled", "reason": "rebound", "changed_at": now}


def moved(
    record: dict[str, Any] | None,
    status: str,
    *,
    allowed: Collection[str],
    reason: str,
    now: float,
) -> dict[str, Any] | None:
    if record is None or record.get("status") not in allowed:
        return None
    return {**record, "status": status, "reason": reason, "changed_at": now}
