"""Back-channel logout deliveries waiting for a retry: the typed record every Store keeps in its
durable queue, and its wire form. No I/O.

An entry is one (client, sid) pair: the `attempt` to make next, `due` at that time. A claim
hands the entry out and, in the same atomic step, leaves its next attempt behind, due a lease
later: a process that dies while delivering loses nothing (another one makes the next attempt
once the lease is over), and no two processes ever make the same attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Delivery:
    client_id: str
    sub: str
    sid: str
    attempt: int
    due: float

    @property
    def key(self) -> str:
        """One queue entry per client and session."""
        return json.dumps([self.client_id, self.sid], ensure_ascii=False, separators=(",", ":"))

    def leased(self, now: float, lease: float) -> Delivery:
        """What a claim leaves behind: the next attempt, due once the lease is over."""
        return replace(self, attempt=self.attempt + 1, due=now + lease)

    def fields(self) -> dict[str, Any]:
        """The record without its due time (a Redis sorted set keeps that as the score)."""
        return {
            "client_id": self.client_id,
            "sub": self.sub,
            "sid": self.sid,
            "attempt": self.attempt,
        }

    def dumps(self) -> str:
        return json.dumps(self.fields(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str, due: float) -> Delivery:
        data = json.loads(raw)
        return cls(
            client_id=str(data["client_id"]),
            sub=str(data["sub"]),
            sid=str(data["sid"]),
            attempt=int(data["attempt"]),
            due=float(due),
        )


def same_entry(claimed: Delivery, then: Delivery | None) -> None:
    """A claim is finished by a delivery of its own client and session, or by none."""
    if then is not None and then.key != claimed.key:
        raise ValueError("finish_delivery: `then` is another client's or session's entry")
