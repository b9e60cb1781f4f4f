"""办件 values and the pieces every transition shares: the status view, the timeline event, the
audit line (who, when, what, from which login), the commit that turns a lost race into a 409."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from portal.db.models import (
    Application,
    ApplicationEvent,
)
from portal.errors import (
    ApplicationState,
)
from portal.rules.applications import Op, State, Status, Who
from portal.rules.fields import PersonRow
from portal.rules.items import BusinessItem
from portal.services import audit
from portal.services.actor import Actor


@dataclass(frozen=True)
class Origin:
    """Who acts and from which login (a short hash of the login session, never the id)."""

    actor: Actor
    login: str = ""

    @property
    def who(self) -> Who:
        return Who(self.actor.id_number, self.actor.name)


@dataclass(frozen=True)
class Upload:
    kind: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class Filing:
    """What the form gave, validated field by field (portal.rules.fields)."""

    item: BusinessItem
    relationship_id: int | None
    form: dict[str, Any] = field(default_factory=dict)
    persons: tuple[PersonRow, ...] = ()
    uploads: tuple[Upload, ...] = ()
    refiled_from: int | None = None


@dataclass(frozen=True)
class Storage:
    upload_dir: Path
    max_bytes: int


def login_ref(session_id: str | None) -> str:
    return hashlib.sha256((session_id or "").encode()).hexdigest()[:16] if session_id else ""


def status_of(app: Application) -> Status:
    return Status(
        state=State(app.state),
        filer_id_number=app.filer_id_number,
        reviewer_id_number=app.reviewer_id_number,
        reviewer_name=app.reviewer_name,
        return_reason=app.return_reason,
        submitted_at=app.submitted_at,
        accepted_at=app.accepted_at,
        picked_at=app.picked_at,
        decided_at=app.decided_at,
    )


def apply_status(app: Application, status: Status, now: dt.datetime) -> None:
    app.state = str(status.state)
    app.reviewer_id_number, app.reviewer_name = status.reviewer_id_number, status.reviewer_name
    app.return_reason = status.return_reason
    app.submitted_at, app.accepted_at = status.submitted_at, status.accepted_at
    app.picked_at, app.decided_at = status.picked_at, status.decided_at
    app.updated_at = now


def add_event(
    app: Application, origin: Origin, op: Op, now: dt.datetime, reason: str | None = None
) -> None:
    app.events.append(
        ApplicationEvent(
            at=now,
            action=str(op),
            state=app.state,
            actor_role=str(origin.actor.role),
            actor_name=origin.actor.name,
            reason=reason,
            login=origin.login,
        )
    )


def record(
    db: AsyncSession, origin: Origin, app: Application, op: Op, now: dt.datetime, **extra: Any
) -> None:
    """The audit line: who, when, what, from which login."""
    audit.record(
        db,
        origin.actor,
        f"application.{op}",
        company_id=app.company_id,
        target=f"application:{app.id}",
        detail={"serial": app.serial_no, "state": app.state, "login": origin.login, **extra},
        at=now,
    )


async def commit(db: AsyncSession) -> None:
    """Commit; a lost race on the application's version is a 409, with nothing changed."""
    try:
        await db.commit()
    except StaleDataError:
        await db.rollback()
        raise ApplicationState("concurrent change") from None


def rows_of(app: Application) -> tuple[PersonRow, ...]:
    return tuple(PersonRow(p.id_number, p.name, dict(p.data)) for p in app.persons)
