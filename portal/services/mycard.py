"""我的社会保障卡 (seed 004) through authsvc's card API, with the login's access token (scope
`ecard`): the card as the registry and authsvc know it, and 卡挂失."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.errors import ProviderUnavailable
from portal.oidc.provider import Provider

STATES = {"active": ("正常", "Active"), "lost": ("已挂失", "Reported lost")}
STATES |= {"suspended": ("暂停使用", "Suspended"), "cancelled": ("已注销", "Cancelled")}


@dataclass(frozen=True)
class CardAnswer:
    """The card (or None) and authsvc's refusal, if any, in its own words."""

    card: dict[str, Any] | None
    error: str = ""
    message: dict[str, str] | None = None


def _answer(status: int, body: dict[str, Any]) -> CardAnswer:
    if status == 200:
        return CardAnswer(card=body)
    message = body.get("message") if isinstance(body.get("message"), dict) else None
    return CardAnswer(card=None, error=str(body.get("error", f"http_{status}")), message=message)


async def my_card(provider: Provider, access_token: str) -> CardAnswer:
    if not access_token:
        return CardAnswer(card=None, error="no_token")
    try:
        return _answer(*await provider.bearer("GET", "/api/ecard/me", access_token))
    except ProviderUnavailable:
        return CardAnswer(card=None, error="service_unavailable")


async def report_lost(provider: Provider, access_token: str) -> CardAnswer:
    """卡挂失: authsvc blocks the e-card and ends the person's sessions everywhere (this one
    included, by back-channel logout)."""
    return _answer(*await provider.bearer("POST", "/api/ecard/me/report-lost", access_token))
