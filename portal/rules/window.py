"""The business window (业务周期): when 申报类 business may be submitted.

Seed 001 item 41: 网厅的申报类业务的时间周期为每个月的5号上午9点到25号下午5点 — inside it
submission works; outside it the application is saved to 待提交 and submitted later.
Configurable (PORTAL_BUSINESS_WINDOW="5 09:00-25 17:00", PORTAL_BUSINESS_TZ).
Opening is inclusive, closing exclusive: 09:00:00 on the 5th is open, 17:00:00 on the 25th is not.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_SPEC = re.compile(r"^\s*(\d{1,2})\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2})\s+(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Window:
    open_day: int = 5
    open_time: dt.time = dt.time(9, 0)
    close_day: int = 25
    close_time: dt.time = dt.time(17, 0)
    tz: str = "Asia/Shanghai"

    def local(self, now: dt.datetime) -> dt.datetime:
        """`now` (naive UTC, as the portal's clock gives it) in the window's time zone."""
        return now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.tz))

    def is_open(self, now: dt.datetime) -> bool:
        local = self.local(now)
        moment = (local.day, local.time().replace(tzinfo=None))
        return (self.open_day, self.open_time) <= moment < (self.close_day, self.close_time)

    def describe(self, lang: str = "zh") -> str:
        o, c = self.open_time.strftime("%H:%M"), self.close_time.strftime("%H:%M")
        if lang == "en":
            return f"the {self.open_day}th {o} to the {self.close_day}th {c} of each month"
        return f"每月{self.open_day}日{o}至{self.close_day}日{c}"


def parse(spec: str, tz: str = "Asia/Shanghai") -> Window:
    """`"5 09:00-25 17:00"` → Window; ValueError for anything else (checked at start-up)."""
    match = _SPEC.match(spec)
    if match is None:
        raise ValueError(f"business window {spec!r}: expected 'D HH:MM-D HH:MM'")
    od, oh, om, cd, ch, cm = (int(g) for g in match.groups())
    window = Window(od, dt.time(oh, om), cd, dt.time(ch, cm), tz)
    ZoneInfo(tz)
    if not (1 <= od <= 28 and 1 <= cd <= 31 and (od, window.open_time) < (cd, window.close_time)):
        raise ValueError(f"business window {spec!r}: opening must precede closing")
    return window
