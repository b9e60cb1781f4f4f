"""The audit stream: who changed what, when (actors masked, never a full ID number)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.db.models import AuditEntry
from portal.rules.idcard import mask, mask_name
from portal.services.actor import Actor


def record(
    db: AsyncSession,
    actor: Actor,
    action: str,
    *,
    company_id: int | None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Add an audit entry to the caller's transaction (it commits with the change).
    `at` is the caller's injected clock (business handling); the wall clock otherwise."""
    db.add(
        AuditEntry(
            at=at or clock.now(db),
            actor_role=actor.role,
            actor=f"{mask_name(actor.name)} {mask(actor.id_number)}",
            company_id=company_id,
            action=action,
            target=target,
            detail=detail or {},
        )
    )


async def for_company(db: AsyncSession, company_id: int, limit: int = 50) -> list[AuditEntry]:
    rows = await db.scalars(
        select(AuditEntry)
        .where(AuditEntry.company_id == company_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return list(rows)
