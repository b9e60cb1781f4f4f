"""What an authorization code stands for (RFC 6749 §4.1.2), kept between the phone's confirm
and the token request.

A grant expires logically: the token endpoint compares `expires_at` with the broker's clock
(`core.oidc.token.check_grant`); a store's TTL only collects what nobody will ask for again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Grant:
    ticket: str
    client_id: str
    request: Mapping[str, Any]
    subject: Mapping[str, Any]
    account: Mapping[str, Any]
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    sid: str
    expires_at: float

    def as_dict(self) -> dict[str, Any]:
        """The grant as the ID-token builder reads it (`core.oidc.claims.id_token_claims`)."""
        return {
            "ticket": self.ticket,
            "client_id": self.client_id,
            "request": dict(self.request),
            "subject": dict(self.subject),
            "account": dict(self.account),
            "auth_time": self.auth_time,
            "acr": self.acr,
            "amr": list(self.amr),
            "sid": self.sid,
            "expires_at": self.expires_at,
        }

    def expired(self, now: float) -> bool:
        return now >= self.expires_at
