"""Time as the database stores it: naive UTC (both SQLite and PostgreSQL columns are naive)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def china_today(now: dt.datetime) -> dt.date:
    """The calendar date in Beijing time, for the birth-date plausibility check."""
    return (now + dt.timedelta(hours=8)).date()


def epoch(now: dt.datetime) -> int:
    """Unix seconds of a naive-UTC datetime (for JWT exp/iat checks)."""
    return int(now.replace(tzinfo=dt.UTC).timestamp())


def from_epoch(seconds: int) -> dt.datetime:
    """The naive-UTC datetime of Unix `seconds` (a JWT's exp as the database stores it)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
