"""Time as the database stores it: naive UTC (both SQLite and PostgreSQL columns are naive)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    """The system clock: only the app's default clock; services ask `now(db)`."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class _HasInfo(Protocol):
    @property
    def info(self) -> MutableMapping[Any, Any]: ...


def now(db: _HasInfo) -> dt.datetime:
    """The app's injected clock, which every database session carries (portal/db/engine.py
    puts it in `Session.info`), so services read the same time the handlers and tests set."""
    clock: Clock = db.info.get("clock", utcnow)
    return clock()


def china_today(now: dt.datetime) -> dt.date:
    """The calendar date in Beijing time, for the birth-date plausibility check."""
    return (now + dt.timedelta(hours=8)).date()


def epoch(now: dt.datetime) -> int:
    """Unix seconds of a naive-UTC datetime (for JWT exp/iat checks)."""
    return int(now.replace(tzinfo=dt.UTC).timestamp())


def from_epoch(seconds: int) -> dt.datetime:
    """The naive-UTC datetime of Unix `seconds` (a JWT's exp as the database stores it)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
