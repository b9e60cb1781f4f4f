"""Electronic social security card (电子社保卡) credentials: a JWT signed by the e-card issuer
key and bound to the phone's device key (`cnf.jwk`, RFC 7800). The card's status lives in the
store, so a card reported lost stops working at once."""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from authsvc import errors
from authsvc.core import idnumber
from authsvc.core.crypto import public_key_from_jwk, thumbprint

TYP = "ecard+jwt"
CARD_LIFETIME = 5 * 365 * 24 * 3600
ALGORITHMS = ["Ed25519", "ES256"]
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_NAME = re.compile(r"^[\u4e00-\u9fff·A-Za-z ]{2,30}$")


class CardStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LOST = "lost"
    CANCELLED = "cancelled"


CARD_ACTIONS: dict[str, tuple[set[CardStatus], CardStatus]] = {
    "suspend": ({CardStatus.ACTIVE}, CardStatus.SUSPENDED),
    "report_lost": ({CardStatus.ACTIVE, CardStatus.SUSPENDED}, CardStatus.LOST),
    "enable": ({CardStatus.SUSPENDED, CardStatus.LOST}, CardStatus.ACTIVE),
    "cancel": ({CardStatus.ACTIVE, CardStatus.SUSPENDED, CardStatus.LOST}, CardStatus.CANCELLED),
}
STATUS_MESSAGES = {
    CardStatus.SUSPENDED: ("您的电子社保卡已暂停使用，无法扫码登录", "Your e-card is suspended"),
    CardStatus.LOST: (
        "您的电子社保卡已挂失，无法扫码登录，请先解挂",
        "Your e-card was reported lost",
    ),
    CardStatus.CANCELLED: (
        "您的电子社保卡已注销，请重新申领",
        "Your e-card was cancelled; apply again",
    ),
}


@dataclass(frozen=True, slots=True)
class Application:
    name: str
    id_number: str
    phone: str
    device_jwk: dict[str, Any]


def validate_application(body: Mapping[str, Any]) -> Application:
    name = str(body.get("name", "")).strip()
    id_number = str(body.get("id_number", "")).strip().upper()
    phone = str(body.get("phone", "")).strip()
    device_jwk = body.get("device_jwk")
    if not idnumber.is_valid(id_number):
        raise errors.IdNumberInvalid()
    if not _NAME.match(name):
        raise errors.InvalidRequest("bad name", zh="姓名格式不正确", en="The name is not valid")
    if not _PHONE.match(phone):
        raise errors.InvalidRequest(
            "bad phone", zh="手机号码格式不正确", en="The phone number is not valid"
        )
    if not isinstance(device_jwk, dict):
        raise errors.InvalidRequest("device_jwk missing")
    try:
        public_key_from_jwk(device_jwk)
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.InvalidRequest("device_jwk unsupported") from exc
    jwk = {k: device_jwk[k] for k in ("kty", "crv", "x", "y") if k in device_jwk}
    return Application(name=name, id_number=id_number, phone=phone, device_jwk=jwk)


def device_thumbprint(app: Application) -> str:
    """The device id the card will be bound to (RFC 7638 thumbprint of its key)."""
    return thumbprint(app.device_jwk)


def new_card_number() -> str:
    """Card numbers as the hall prints them: a letter and eight digits."""
    return (
        "E" + "".join(secrets.choice("0123456789") for _ in range(8)) + secrets.token_hex(2).upper()
    )


def card_claims(app: Application, *, card_no: str, issuer: str, now: float) -> dict[str, Any]:
    return {
        "iss": issuer,
        "sub": card_no,
        "iat": int(now),
        "exp": int(now + CARD_LIFETIME),
        "name": app.name,
        "id_number": app.id_number,
        "phone": app.phone,
        "cnf": {"jwk": app.device_jwk, "jkt": thumbprint(app.device_jwk)},
    }


def issue(claims: dict[str, Any], key: Any) -> str:
    header = {"alg": key.alg, "kid": key.kid, "typ": TYP}
    return jwt.encode(header, claims, key, algorithms=ALGORITHMS)


@dataclass(frozen=True, slots=True)
class Card:
    card_no: str
    name: str
    id_number: str
    phone: str
    device_jwk: dict[str, Any]
    device_id: str
    expires_at: int = 0


class VerifiedCards:
    """Credentials already verified against a given key set: a phone presents the same card on
    every request, and its signature cannot change. Status is never cached (挂失 acts at once)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._cards: OrderedDict[tuple[str, int], Card] = OrderedDict()

    def get(self, token: str, keys: KeySet, now: float) -> Card | None:
        card = self._cards.get((token, id(keys)))
        if card is None or now >= card.expires_at:
            return None
        self._cards.move_to_end((token, id(keys)))
        return card

    def put(self, token: str, keys: KeySet, card: Card) -> None:
        self._cards[(token, id(keys))] = card
        if len(self._cards) > self._size:
            self._cards.popitem(last=False)


def read(token: str, keys: KeySet, *, issuer: str, now: float) -> Card:
    """Verify the credential's signature, type, issuer and lifetime. Status is checked apart."""
    try:
        decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise errors.EcardInvalid(str(exc)[:120]) from exc
    header, claims = decoded.header, decoded.claims
    if header.get("typ") != TYP or not header.get("kid"):
        raise errors.EcardInvalid("wrong typ or no kid")
    if (
        claims.get("iss") != issuer
        or not isinstance(claims.get("exp"), int)
        or now >= claims["exp"]
    ):
        raise errors.EcardInvalid("wrong issuer or expired")
    try:
        jwk = dict(claims["cnf"]["jwk"])
        return Card(
            card_no=str(claims["sub"]),
            name=str(claims["name"]),
            id_number=str(claims["id_number"]),
            phone=str(claims["phone"]),
            device_jwk=jwk,
            device_id=thumbprint(jwk),
            expires_at=claims["exp"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.EcardInvalid("claims incomplete") from exc


def require_active(status: str) -> None:
    """A card that is suspended, lost or cancelled cannot log in (seeds: 卡状态异常)."""
    state = (
        CardStatus(status) if status in CardStatus.__members__.values() else CardStatus.CANCELLED
    )
    if state is not CardStatus.ACTIVE:
        zh, en = STATUS_MESSAGES[state]
        raise errors.EcardNotActive(status, zh=zh, en=en)


def next_status(current: str, action: str) -> CardStatus:
    if action not in CARD_ACTIONS:
        raise errors.InvalidRequest(f"unknown action {action}")
    allowed, target = CARD_ACTIONS[action]
    if CardStatus(current) not in allowed:
        raise errors.TicketStateConflict(
            f"{action} from {current}",
            zh="电子社保卡当前状态不允许此操作",
            en="Not allowed in the card's state",
        )
    return target
