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

from authsvc import errors as broker_errors
from authsvc.core import device, qr
from authsvc.core.crypto import (
    Algorithm,
    VerifyingKey,
    algorithm_of,
    b64u_decode,
    public_jwk,
    public_key_from_jwk,
)
from mobile_sim import certificate, errors, faces
from mobile_sim.errors import PhoneError
from mobile_sim.source import read_file, read_source
from mobile_sim.state import PhoneState

__all__ = ["PhoneApp", "PhoneError", "ScanResult"]
TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass
class ScanResult:
    """What the broker said about a scanned login: who asks, from where, with which accounts."""

    ticket_id: str
    client: dict[str, Any]
    identity: str
    browser: dict[str, Any]
    accounts: list[dict[str, Any]]
    requested_at: float
    expires_at: float
    face: dict[str, Any]
    place_warning: bool = False
    phone_place: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    number_choices: list[str] = field(default_factory=list)  # number matching, else empty
    #: The claims the broker will give this portal if the login is confirmed (name, id_number…).
    claims: list[str] = field(default_factory=list)

    def matching(self, role: str, credit_code: str = "") -> list[dict[str, Any]]:
        return [
            a
            for a in self.accounts
            if a.get("role") == role and (not credit_code or a.get("credit_code") == credit_code)
        ]

    def account(self, role: str, credit_code: str = "") -> dict[str, Any]:
        """The offered account with this role (and company), or the first one with this role."""
        matches = self.matching(role, credit_code)
        if not matches:
            raise errors.account_not_offered()
        return matches[0]


def _scan_result(answer: dict[str, Any], phone_place: str) -> ScanResult:
    try:
        browser = dict(answer["browser"])
        place = str(browser.get("place", ""))
        return ScanResult(
            ticket_id=str(answer["ticket_id"]),
            client=dict(answer["client"]),
            identity=str(answer["identity"]),
            browser=browser,
            accounts=list(answer["accounts"]),
            requested_at=float(answer["requested_at"]),
            expires_at=float(answer["expires_at"]),
            face=dict(answer["face"]),
            place_warning=bool(phone_place and place != phone_place),
            phone_place=phone_place,
            raw=answer,
            number_choices=[str(n) for n in answer.get("number_choices", [])],
            claims=_claims(answer),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PhoneError(
            "bad_answer",
            "认证服务返回的数据无法识别",
            "The broker's answer is malformed",
            detail=repr(exc)[:120],
        ) from exc


def _claims(answer: dict[str, Any]) -> list[str]:
    claims = answer.get("claims", [])
    if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
        raise TypeError("claims is not a list of names")
    return list(claims)


# The face check's refusals after its result was recorded (with the choice it carried).
_FACE_RECORDED = frozenset({"face_check_failed", "face_check_exhausted"})


class PhoneApp:
    def __init__(
        self,
        state: PhoneState,
        *,
        session: aiohttp.ClientSession | None = None,
        faces_dir: Path | None = None,
    ) -> None:
        self.state = state
        self.faces_dir = faces_dir if faces_dir is not None else faces.default_folder()
        self._session = session
        self._owns_session = session is None
        self._unknown_kids: set[str] = set()
        self.ticket: ScanResult | None = None
        self._face_challenge: dict[str, Any] | None = None  # came with the scan or the choice
        self._pending_account: str | None = None  # chosen, sent with the face check's answer

    @classmethod
    def open(
        cls,
        home: str | Path,
        broker_url: str = "",
        *,
        session: aiohttp.ClientSession | None = None,
        place: str | None = None,
        algorithm: Algorithm = Algorithm.ES256,
        certificate_jwks_url: str | None = None,
        faces_dir: str | Path | None = None,
    ) -> PhoneApp:
        """`faces_dir`: where the people's faces are (default $MOBILE_SIM_FACES), never inside
        the phone's home folder."""
        state = PhoneState.open(
            Path(home),
            broker_url=broker_url,
            place=place,
            algorithm=algorithm,
            certificate_jwks_url=certificate_jwks_url,
        )
        return cls(state, session=session, faces_dir=Path(faces_dir) if faces_dir else None)

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
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    def _headers(self, method: str, path: str, raw: bytes, signed: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json"} if method != "GET" else {}
        if signed:
            headers.update(
                device.signed_headers(
                    self.state.device_key,
                    method=method,
                    path=path,
                    body=raw,
                    timestamp=int(time.time()),
                    nonce=secrets.token_urlsafe(16),
                )
            )
            if self.state.ecard:
                headers[device.HEADER_ECARD] = self.state.ecard
        return headers

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, signed: bool = True
    ) -> dict[str, Any]:
        raw = json.dumps(body or {}, ensure_ascii=False).encode() if method != "GET" else b""
        url = self.state.broker_url + path
        try:
            async with self._http().request(
                method, url, data=raw or None, headers=self._headers(method, path, raw, signed)
            ) as response:
                answer = await _json_of(response)
                status = response.status
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise errors.broker_unreachable(self.state.broker_url, repr(exc)[:160]) from exc
        if status >= 400:
            raise _refusal(answer, status)
        return answer

    # --- broker keys ---------------------------------------------------------------------
    async def pin_broker_keys(self) -> None:
        """Fetch the broker's QR keys from the configured broker URL (never from a URL in a QR)
        and pin them; a later fetch must answer as the same issuer."""
        answer = await self._call("GET", "/api/broker-keys", signed=False)
        keys = answer.get("qr", {}).get("keys") if isinstance(answer.get("qr"), dict) else None
        if not isinstance(answer.get("issuer"), str) or not isinstance(keys, list):
            raise PhoneError(
                "bad_answer", "认证服务返回的数据无法识别", "The broker's answer is malformed"
            )
        self.state.pin(answer["issuer"], keys)
        self._unknown_kids.clear()

    def verify_qr(self, text: str) -> qr.QrClaims:
        """Offline: signed by a pinned broker key, unaltered, not expired — or refused."""
        try:
            return self._verify(text)
        except _UnknownKid as exc:
            raise errors.qr_invalid(f"unknown kid {exc.kid}") from exc

    def _verify(self, text: str) -> qr.QrClaims:
        wanted: list[str] = []

        def resolve(kid: str) -> VerifyingKey | None:
            wanted.append(kid)
            jwk = self.state.pinned_keys.get(kid)
            if jwk is None:
                return None
            key = public_key_from_jwk(jwk)
            return VerifyingKey(kid=kid, alg=algorithm_of(key), key=key)

        try:
            return qr.verify_text(
                text, trusted_issuers={self.state.issuer}, resolve_key=resolve, now=time.time()
            )
        except broker_errors.QrUnknownKey as exc:
            raise _UnknownKid(wanted[-1] if wanted else "") from exc
        except (broker_errors.QrAuthError, ValueError, TypeError, KeyError) as exc:
            raise errors.qr_invalid(f"{type(exc).__name__}: {exc}"[:120]) from exc

    async def check_qr(self, text: str) -> qr.QrClaims:
        """Pin at first use, verify offline; only an unknown key id (the broker rotated its QR
        key) makes the phone re-fetch the keys, once, from the configured broker URL."""
        if not self.state.pinned_keys:
            await self.pin_broker_keys()
        try:
            return self._verify(text)
        except _UnknownKid as exc:
            if exc.kid in self._unknown_kids:
                raise errors.qr_invalid(f"unknown kid {exc.kid}") from exc
            await self.pin_broker_keys()
            self._unknown_kids.add(exc.kid)
            return self.verify_qr(text)

    # --- the card ------------------------------------------------------------------------
    async def apply_ecard(
        self, name: str, id_number: str, phone: str, *, face: str = "capture"
    ) -> dict[str, Any]:
        """电子社保卡申领: the registry checks the person, the server sends a liveness challenge,
        the person's face answers it; the card binds this device. `face="fail"` looks away."""
        body: dict[str, Any] = {
            "name": name,
            "id_number": id_number,
            "phone": phone,
            "device_jwk": public_jwk(self.state.device_key.public_key()),
        }
        challenge = await self._call("POST", "/api/mobile/face-challenges", body)
        body["face"] = self._capture(challenge, id_number, face)
        answer = await self._call("POST", "/api/mobile/ecards", body)
        self.state.save_card(answer["ecard"], answer["card_no"], id_number.upper())
        return answer

    def _capture(self, challenge: dict[str, Any], id_number: str, mode: str) -> dict[str, str]:
        """采集本人人脸: the person's face signs the challenge — or, choosing to fail, does not."""
        if mode not in ("capture", "pass", "fail"):
            raise errors.face_mode_unknown(mode)
        key = None
        if mode != "fail":
            key = faces.load(self.faces_dir, id_number)
            if key is None:
                raise errors.no_face(id_number)
        return {
            "challenge_id": str(challenge.get("challenge_id", "")),
            "capture": faces.capture(key, challenge),
        }

    def holder(self) -> str:
        """The ID number of this phone's card holder (from the state, else the card itself)."""
        if self.state.holder:
            return self.state.holder
        try:
            payload = self.state.ecard.split(".")[1]
            claims = json.loads(b64u_decode(payload))
            return str(claims.get("id_number", ""))
        except (IndexError, ValueError):
            return ""

    async def unlock_ecard(self, *, face: str = "capture") -> dict[str, Any]:
        """卡解挂 on this phone: a fresh face check of the card holder, then the card works."""
        if not self.state.ecard:
            raise errors.no_ecard()
        challenge = await self._call("POST", "/api/mobile/ecard/unlock-challenge")
        body = {"face": self._capture(challenge, self.holder(), face)}
        return await self._call("POST", "/api/mobile/ecard/unlock", body)

    async def show_ecard(self) -> dict[str, Any]:
        if not self.state.ecard:
            raise errors.no_ecard()
        return await self._call("GET", "/api/mobile/ecard")

    # --- a login -------------------------------------------------------------------------
    async def scan(self, text: str) -> ScanResult:
        """扫一扫: verify the QR offline, then post the scan; first scan wins at the broker."""
        if not self.state.ecard:
            raise errors.no_ecard()
        claims = await self.check_qr(text)
        path = f"/api/mobile/tickets/{claims.ticket_id}/scan"
        answer = await self._call("POST", path, {"qr": text.strip()})
        self.ticket = _scan_result(answer, self.state.place)
        self._face_challenge, self._pending_account = answer.get("face_challenge"), None
        return self.ticket

    async def scan_image(self, path: str | Path) -> ScanResult:
        """Scan a screenshot (PNG, JPEG…) of a login QR."""
        return await self.scan(read_file(Path(path)))

    async def scan_source(self, source: str | Path) -> ScanResult:
        """Scan an image file or the QR text itself."""
        return await self.scan(read_source(source))

    def _ticket_path(self, action: str) -> str:
        if self.ticket is None:
            raise errors.no_scan()
        return f"/api/mobile/tickets/{self.ticket.ticket_id}/{action}"

    async def pick_number(self, number: str) -> dict[str, Any]:
        """Number matching: pick the number the computer's screen shows; a wrong one cancels."""
        return await self._call("POST", self._ticket_path("number"), {"number": number})

    async def choose(self, account_key: str, *, with_face_check: bool = False) -> dict[str, Any]:
        """The account, sent now; its answer carries the face check's challenge when one is
        needed. `with_face_check`: the user goes on to the face check, as the app's screens do.
        When the scan brought the challenge, the choice is then held and sent with its answer
        (one request for both); a confirmation without that answer sends it first."""
        offered = self._offered(account_key)
        if with_face_check and offered is not None and self._usable(self._face_challenge):
            self._pending_account = account_key
            return {"account": offered}
        return await self._send_account(account_key)

    async def _send_account(self, account_key: str) -> dict[str, Any]:
        answer = await self._call("POST", self._ticket_path("account"), {"account": account_key})
        self._face_challenge = answer.get("face_challenge")
        return answer

    def _offered(self, account_key: str) -> dict[str, Any] | None:
        accounts = self.ticket.accounts if self.ticket is not None else []
        return next((dict(a) for a in accounts if a.get("key") == account_key), None)

    async def _send_pending_account(self) -> None:
        """A choice still waiting for a face check that did not happen goes on its own."""
        if self._pending_account is not None:
            key, self._pending_account = self._pending_account, None
            await self._send_account(key)

    async def face_check(self, mode: str = "capture") -> dict[str, Any]:
        """The server's liveness challenge, answered with the holder's face (`capture`) or a
        chosen failure (`fail`, to show retries), and with the waiting account choice. The
        phone never says "passed". The challenge that came with the scan or the choice is
        answered first; when the server no longer takes it (expired on its clock, or
        replaced), and for a retry, the phone asks for a new one."""
        carried = self._take_face_challenge()
        if carried is not None:
            try:
                return await self._answer_face(carried, mode)
            except PhoneError as exc:
                if exc.code != "face_challenge_invalid":
                    raise
        challenge = await self._call("POST", self._ticket_path("face-challenge"))
        return await self._answer_face(challenge, mode)

    async def _answer_face(self, challenge: dict[str, Any], mode: str) -> dict[str, Any]:
        answer = self._capture(challenge, self.holder(), mode)
        if self._pending_account is not None:
            answer["account"] = self._pending_account
        try:
            result = await self._call("POST", self._ticket_path("face"), answer)
        except PhoneError as exc:
            if exc.code in _FACE_RECORDED:  # the choice was recorded with the failure
                self._pending_account = None
            raise
        self._pending_account = None
        return result

    def _take_face_challenge(self) -> dict[str, Any] | None:
        challenge, self._face_challenge = self._face_challenge, None
        return challenge if self._usable(challenge) else None

    @staticmethod
    def _usable(challenge: dict[str, Any] | None) -> bool:
        return challenge is not None and float(challenge.get("expires_at", 0)) > time.time()

    async def confirm(self) -> dict[str, Any]:
        await self._send_pending_account()
        return await self._call("POST", self._ticket_path("confirm"))

    async def reject(self) -> dict[str, Any]:
        return await self._call("POST", self._ticket_path("reject"))

    async def login(
        self,
        text: str,
        *,
        role: str = "personal",
        credit_code: str = "",
        face: str = "capture",
        number: str = "",
    ) -> ScanResult:
        """Scan, (pick the number,) choose the account, pass the face check, confirm."""
        result = await self.scan(text)
        if result.number_choices:
            await self.pick_number(number)
        await self.choose(result.account(role, credit_code)["key"], with_face_check=True)
        await self.face_check(face)
        await self.confirm()
        return result

    # --- certificates --------------------------------------------------------------------
    async def pin_certificate_keys(self) -> None:
        """Fetch the portal's certificate JWKS from the configured URL and pin it."""
        url = self.state.certificate_jwks_url
        try:
            async with self._http().get(url) as response:
                document = await _json_of(response)
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise errors.certificate_keys_unavailable(url, repr(exc)[:160]) from exc
        keys = document.get("keys")
        if status != 200 or not isinstance(keys, list):
            raise errors.certificate_keys_unavailable(url, f"status {status}")
        self.state.pin_certificate_keys(certificate.issuer_of(url, document), keys)

    async def verify_certificate(
        self, source: str | Path, *, now: float | None = None
    ) -> certificate.Certificate:
        """Verify a certificate QR (image or text) offline against the pinned portal keys; an
        unknown key id makes the phone re-fetch the JWKS once from the configured URL."""
        token = certificate.token_of(read_source(source))
        kid = certificate.header_of(token)["kid"]
        keys = self.state.certificate_keys
        if not keys or (kid not in keys and kid not in self._unknown_kids):
            await self.pin_certificate_keys()
            if kid not in self.state.certificate_keys:
                self._unknown_kids.add(kid)
        moment = time.time() if now is None else now
        try:
            return certificate.verify_token(
                token, self.state.certificate_keys, issuer=self.state.certificate_issuer, now=moment
            )
        except certificate.UnknownKey as exc:
            raise errors.certificate_invalid(f"unknown kid {exc}") from exc


class _UnknownKid(Exception):
    def __init__(self, kid: str) -> None:
        super().__init__(kid)
        self.kid = kid


async def _json_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        answer = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _refusal(answer: dict[str, Any], status: int) -> PhoneError:
    message = answer.get("message")
    message = message if isinstance(message, dict) else {}
    zh = str(message.get("zh", "")) or f"认证服务拒绝了请求（HTTP {status}）"
    en = str(message.get("en", "")) or f"The broker refused the request (HTTP {status})"
    return PhoneError(str(answer.get("error", "http_error")), zh, en, status)
