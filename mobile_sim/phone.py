"""PhoneApp: one phone, talking to authsvc only through its public HTTP API.

It keeps a device key, its e-card and the broker keys it pinned in a home folder, verifies
every login QR offline before sending anything, and signs every request with the device key."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from authsvc.core import device, qr
from authsvc.core.crypto import Algorithm, VerifyingKey, algorithm_of, public_jwk, public_key_from_jwk
from mobile_sim.state import PhoneState


class PhoneError(Exception):
    """A refusal, by the phone itself or by the broker: a stable code and the messages."""

    def __init__(self, code: str, zh: str, en: str, status: int = 0) -> None:
        super().__init__(f"{code}: {zh}")
        self.code, self.zh, self.en, self.status = code, zh, en, status


FOREIGN_QR = PhoneError(
    "qr_invalid", "此二维码不是本平台的登录二维码", "This QR code is not a login code of this platform"
)


@dataclass
class ScanResult:
    ticket_id: str
    client: dict[str, Any]
    identity: str
    browser: dict[str, Any]
    accounts: list[dict[str, Any]]
    requested_at: float
    expires_at: float
    face: dict[str, Any]
    place_warning: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    def account(self, role: str, credit_code: str = "") -> dict[str, Any]:
        """The offered account with this role (and company), or the only one with this role."""
        matches = [a for a in self.accounts if a["role"] == role and (not credit_code or a.get("credit_code") == credit_code)]
        if not matches:
            raise PhoneError("account_not_offered", "所选账号不可用", "That account was not offered")
        return matches[0]


class PhoneApp:
    def __init__(self, state: PhoneState, *, session: aiohttp.ClientSession | None = None) -> None:
        self.state = state
        self._session = session
        self._owns_session = session is None
        self.ticket: ScanResult | None = None

    @classmethod
    def open(cls, home: str | Path, broker_url: str = "", *, session: aiohttp.ClientSession | None = None,
             place: str | None = None, algorithm: Algorithm = Algorithm.ES256) -> PhoneApp:
        return cls(PhoneState.open(Path(home), broker_url=broker_url, place=place, algorithm=algorithm), session=session)

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> PhoneApp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- transport ---------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._session

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, *, signed: bool = True) -> dict[str, Any]:
        raw = json.dumps(body or {}, ensure_ascii=False).encode() if method != "GET" else b""
        headers = {"Content-Type": "application/json"} if method != "GET" else {}
        if signed:
            headers.update(device.signed_headers(
                self.state.device_key, method=method, path=path, body=raw,
                timestamp=int(time.time()), nonce=secrets.token_urlsafe(16),
            ))
            if self.state.ecard:
                headers[device.HEADER_ECARD] = self.state.ecard
        async with self._http().request(method, self.state.broker_url + path, data=raw or None, headers=headers) as response:
            try:
                answer = await response.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                answer = {}
            if response.status >= 400:
                message = answer.get("message", {}) if isinstance(answer, dict) else {}
                raise PhoneError(str(answer.get("error", "http_error")), message.get("zh", ""), message.get("en", ""), response.status)
            return answer if isinstance(answer, dict) else {}

    # --- broker keys ---------------------------------------------------------------------
    async def pin_broker_keys(self) -> None:
        """Fetch the broker's QR and e-card keys from the configured broker URL and pin them."""
        keys = await self._call("GET", "/api/broker-keys", signed=False)
        self.state.pin(keys["issuer"], keys["qr"]["keys"])

    def verify_qr(self, text: str) -> qr.QrClaims:
        """Offline: signed by a pinned broker key, unaltered, not expired — or refused."""
        def resolve(kid: str) -> VerifyingKey | None:
            jwk = self.state.pinned_keys.get(kid)
            if jwk is None:
                return None
            key = public_key_from_jwk(jwk)
            return VerifyingKey(kid=kid, alg=algorithm_of(key), key=key)

        try:
            return qr.verify_text(text, trusted_issuers={self.state.issuer}, resolve_key=resolve, now=time.time())
        except Exception as exc:  # every refusal reads the same to the user
            raise FOREIGN_QR from exc

    # --- the card ------------------------------------------------------------------------
    async def apply_ecard(self, name: str, id_number: str, phone: str, *, face: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"name": name, "id_number": id_number, "phone": phone, "face": face or {"mode": "pass"},
                "device_jwk": public_jwk(self.state.device_key.public_key())}
        answer = await self._call("POST", "/api/mobile/ecards", body)
        self.state.save_card(answer["ecard"], answer["card_no"])
        return answer

    async def show_ecard(self) -> dict[str, Any]:
        return await self._call("GET", "/api/mobile/ecard")

    # --- a login -------------------------------------------------------------------------
    async def scan(self, text: str) -> ScanResult:
        if not self.state.pinned_keys:
            await self.pin_broker_keys()
        try:
            self.verify_qr(text)
        except PhoneError:
            await self.pin_broker_keys()  # the broker may have rotated its QR key
            self.verify_qr(text)
        answer = await self._call("POST", "/api/mobile/scan", {"qr": text})
        place = answer["browser"].get("place", "")
        self.ticket = ScanResult(
            ticket_id=answer["ticket_id"], client=answer["client"], identity=answer["identity"],
            browser=answer["browser"], accounts=answer["accounts"], requested_at=answer["requested_at"],
            expires_at=answer["expires_at"], face=answer["face"],
            place_warning=bool(self.state.place and place and place != self.state.place), raw=answer,
        )
        return self.ticket

    def _ticket_path(self, action: str) -> str:
        if self.ticket is None:
            raise PhoneError("no_scan", "请先扫描登录二维码", "Scan a login QR code first")
        return f"/api/mobile/tickets/{self.ticket.ticket_id}/{action}"

    async def choose(self, account_key: str) -> dict[str, Any]:
        return await self._call("POST", self._ticket_path("account"), {"account": account_key})

    async def face_check(self, mode: str = "pass", score: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"mode": mode}
        if score is not None:
            body["score"] = score
        return await self._call("POST", self._ticket_path("face"), body)

    async def confirm(self) -> dict[str, Any]:
        return await self._call("POST", self._ticket_path("confirm"))

    async def reject(self) -> dict[str, Any]:
        return await self._call("POST", self._ticket_path("reject"))

    async def login(self, text: str, *, role: str = "personal", credit_code: str = "", face: str = "pass") -> ScanResult:
        """Scan, choose the account, pass the face check, confirm: the whole phone side."""
        result = await self.scan(text)
        await self.choose(result.account(role, credit_code)["key"])
        await self.face_check(face)
        await self.confirm()
        return result
