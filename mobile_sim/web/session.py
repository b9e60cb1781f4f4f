"""The page's one phone and the login in progress on it, as the screens show them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from authsvc.core.ecard import STATUS_MESSAGES, CardStatus
from mobile_sim import certificate, present
from mobile_sim.errors import PhoneError
from mobile_sim.phone import PhoneApp, ScanResult

# Broker refusals after which this login cannot go on: the page shows the outcome screen.
FINAL_CODES = frozenset(
    {
        "face_check_exhausted",
        "ticket_state_conflict",
        "ticket_expired",
        "ticket_not_found",
        "ticket_consumed",
        "not_ticket_device",
        "number_mismatch",
    }
)


@dataclass
class Login:
    result: ScanResult
    account_key: str = ""
    number_matched: bool = False  # number matching: the pick was right (or none was asked)
    face_passed: bool = False
    failures: int = 0
    outcome: str = ""  # "", "confirmed", "rejected" or "failed"
    failure: dict[str, Any] = field(default_factory=dict)

    def fail(self, exc: PhoneError) -> None:
        self.outcome, self.failure = "failed", exc.as_dict()["message"]

    def view(self, phone_place: str, lang: str) -> dict[str, Any]:
        max_failures = int(self.result.face.get("max_failures", 3))
        return {
            **present.scan_view(self.result, phone_place, lang),
            "number_choices": list(self.result.number_choices),
            "number_matched": self.number_matched or not self.result.number_choices,
            "account_key": self.account_key,
            "account": next(
                (
                    present.account_view(a, lang)
                    for a in self.result.accounts
                    if a.get("key") == self.account_key
                ),
                None,
            ),
            "face_passed": self.face_passed,
            "failures": self.failures,
            "failures_left": max(
                max_failures - int(self.result.face.get("failures", 0)) - self.failures, 0
            ),
            "outcome": self.outcome,
            "failure": self.failure,
        }


class PhoneSession:
    """One phone (one home folder); steps are serialized so two tabs cannot interleave them."""

    def __init__(self, phone: PhoneApp) -> None:
        self.phone = phone
        self.lock = asyncio.Lock()
        self.login: Login | None = None
        self.card_status = ""
        self.card_problem: dict[str, str] = {}
        # The last certificate QR checked by 扫一扫: the certificate, or the refusal's words.
        self.certificate: certificate.Certificate | None = None
        self.certificate_refusal: dict[str, str] = {}

    async def refresh_card(self) -> None:
        """Ask the broker for the card's status (readable even when the card is blocked), and
        say why a blocked card cannot log in; unknown when the broker cannot answer."""
        self.card_status, self.card_problem = "", {}
        if not self.phone.state.ecard:
            return
        try:
            self.card_status = str((await self.phone.show_ecard()).get("status", ""))
            if self.card_status in STATUS_MESSAGES:
                zh, en = STATUS_MESSAGES[CardStatus(self.card_status)]
                self.card_problem = {"zh": zh, "en": en}
        except PhoneError as exc:
            if exc.code in ("ecard_not_active", "ecard_invalid", "device_key_mismatch"):
                self.card_status, self.card_problem = "inactive", {"zh": exc.zh, "en": exc.en}

    def card(self) -> dict[str, Any] | None:
        state = self.phone.state
        if not state.ecard:
            return None
        view = present.card_view(state.ecard, state.card_no)
        return {**view, "status": self.card_status, "problem": self.card_problem}

    def view(self, lang: str) -> dict[str, Any]:
        state = self.phone.state
        return {
            "card": self.card(),
            "place": state.place,
            "broker": state.broker_url,
            "login": self.login.view(state.place, lang) if self.login else None,
            "certificate": self.certificate_view(lang),
        }

    def certificate_view(self, lang: str) -> dict[str, Any] | None:
        if self.certificate is not None:
            return {"ok": True, "lines": present.certificate_lines(self.certificate, lang)}
        if self.certificate_refusal:
            return {"ok": False, "message": self.certificate_refusal}
        return None

    def forget_certificate(self) -> None:
        self.certificate, self.certificate_refusal = None, {}

    def current(self) -> Login:
        if self.login is None or self.login.outcome:
            raise PhoneError("no_scan", "请先扫描登录二维码", "Scan a login QR code first")
        return self.login
