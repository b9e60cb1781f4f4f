"""Abuse limits of the portal's public forms (issue 12): pure numbers and decisions, no I/O.

单位注册 is public and answers from the organization registries, so unlimited tries would let
anyone probe which ID number is a company's legal representative. Tries are bounded per client
address and per credit code; beyond the bound the answer is 429 with Retry-After.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    scope: str
    max_hits: int
    window: dt.timedelta


REGISTER_PER_ADDRESS = Limit("register:address", 20, dt.timedelta(hours=1))
REGISTER_PER_CREDIT_CODE = Limit("register:credit_code", 5, dt.timedelta(hours=1))


def retry_after(count: int, window_ends: dt.datetime, limit: Limit, now: dt.datetime) -> int:
    """0 while `count` is within the limit, else whole seconds until the window ends (≥ 1)."""
    if count <= limit.max_hits:
        return 0
    return max(1, math.ceil((window_ends - now).total_seconds()))
