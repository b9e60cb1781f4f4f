"""How many WebSockets one process holds open: per address, per ticket, and before the secret.

Counted per process (a socket lives in one process; a shared counter would outlive a crashed
process): behind a load balancer with P processes the bounds are P times these. A socket that
would pass a bound is refused — before the upgrade with 429 and `Retry-After` (per address,
unauthenticated), after authenticating with close code 4429 (per ticket; a socket that has not
proved the secret can never use up a ticket's room)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from authsvc import errors
from authsvc.config import Limits

CLOSE_TOO_MANY = 4429
RETRY_AFTER = 10


@dataclass
class SocketCounts:
    limits: Limits
    by_ip: Counter[str] = field(default_factory=Counter)
    by_ticket: Counter[str] = field(default_factory=Counter)
    unauthenticated: int = 0

    def open(self, ip: str) -> None:
        """A new socket from `ip`, not yet authenticated; raises RateLimited past a bound."""
        if self.by_ip[ip] >= self.limits.ws_per_ip:
            raise errors.RateLimited(f"ws per ip {ip}", retry_after=RETRY_AFTER)
        if self.unauthenticated >= self.limits.ws_unauthenticated:
            raise errors.RateLimited("ws unauthenticated", retry_after=RETRY_AFTER)
        self.by_ip[ip] += 1
        self.unauthenticated += 1

    def authenticated(self) -> None:
        self.unauthenticated -= 1

    def join(self, ticket_id: str) -> bool:
        """Room for one more authenticated socket on `ticket_id`? Takes it if so."""
        if self.by_ticket[ticket_id] >= self.limits.ws_per_ticket:
            return False
        self.by_ticket[ticket_id] += 1
        return True

    def leave(self, ticket_id: str) -> None:
        self.by_ticket[ticket_id] -= 1
        if self.by_ticket[ticket_id] <= 0:
            del self.by_ticket[ticket_id]

    def close(self, ip: str, *, authenticated: bool) -> None:
        if not authenticated:
            self.unauthenticated -= 1
        self.by_ip[ip] -= 1
        if self.by_ip[ip] <= 0:
            del self.by_ip[ip]
