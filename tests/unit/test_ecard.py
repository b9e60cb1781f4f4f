"""E-card credentials (authsvc/core/ecard.py): applications, status changes, reading a card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, import_key

from authsvc import errors
from authsvc.core import ecard
from authsvc.core.crypto import (
    Algorithm,
    PrivateKey,
    algorithm_of,
    b64u,
    generate,
    public_jwk,
    thumbprint,
)
from authsvc.core.ecard import CardStatus

NOW = 1_800_000_000.0
ISSUER = "http://127.0.0.1:8700"
DEVICE = generate(Algorithm.ES256)
DEVICE_JWK = public_jwk(DEVICE.public_key())
APPLICATION = {
    "name": "张三",
    "id_number": "11010519491231002x",
    "phone": "13800138000",
    "device_jwk": DEVICE_JWK,
}


def jose(key: PrivateKey, kid: str) -> Any:
    alg = algorithm_of(key)
    key_type = "OKP" if alg is Algorithm.ED25519 else "EC"
    return import_key(key, key_type, parameters={"kid": kid, "alg": str(alg)})


ISSUER_KEY = generate(Algorithm.ED25519)
SIGNER = jose(ISSUER_KEY, "ecard-1")
KEYS = KeySet([jose(ISSUER_KEY, "ecard-1")])


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(errors.QrAuthError) as refused:
        call()
    return refused.value.code


def test_validate_application_normalises() -> None:
    """A valid application is trimmed, its ID upper-cased, its JWK reduced to the public members."""
    body = {
        **APPLICATION,
        "name": " 张三 ",
        "phone": " 13800138000 ",
        "device_jwk": {**DEVICE_JWK, "d": "private!", "kid": "x", "use": "sig"},
    }
    app = ecard.validate_application(body)
    assert (app.name, app.id_number, app.phone) == ("张三", "11010519491231002X", "13800138000")
    assert app.device_jwk == DEVICE_JWK and "d" not in app.device_jwk


BAD_APPLICATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("bad check digit", {"id_number": "110105194912310039"}, "id_number_invalid"),
    ("bad birth date", {"id_number": "11010519490230002X"}, "id_number_invalid"),
    ("no id", {"id_number": None}, "id_number_invalid"),
    ("id before name", {"id_number": "1", "name": "1"}, "id_number_invalid"),
    ("one-character name", {"name": "张"}, "invalid_request"),
    ("name with digits", {"name": "张3"}, "invalid_request"),
    ("name with markup", {"name": "<b>张三</b>"}, "invalid_request"),
    ("landline", {"phone": "01012345678"}, "invalid_request"),
    ("short phone", {"phone": "1380013800"}, "invalid_request"),
    ("no device key", {"device_jwk": None}, "invalid_request"),
    ("device key as text", {"device_jwk": "{}"}, "invalid_request"),
    ("RSA device key", {"device_jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, "invalid_request"),
    ("P-384 device key", {"device_jwk": {**DEVICE_JWK, "crv": "P-384"}}, "invalid_request"),
    (
        "point off the curve",
        {"device_jwk": {**DEVICE_JWK, "y": DEVICE_JWK["x"]}},
        "invalid_request",
    ),
    (
        "Ed25519 key too short",
        {"device_jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
        "invalid_request",
    ),
    (
        "EC key without y",
        {"device_jwk": {"kty": "EC", "crv": "P-256", "x": DEVICE_JWK["x"]}},
        "invalid_request",
    ),
]


@pytest.mark.parametrize(
    ("changes", "code"), [c[1:] for c in BAD_APPLICATIONS], ids=[c[0] for c in BAD_APPLICATIONS]
)
def test_validate_application_refusals(changes: dict[str, Any], code: str) -> None:
    """Each invalid field is refused with its stable code (the ID number is checked first)."""
    body = {k: v for k, v in {**APPLICATION, **changes}.items() if v is not None}
    assert code_of(lambda: ecard.validate_application(body)) == code


# status → action → the new status, or None when the action is not allowed from that status.
CARD_TABLE: dict[CardStatus, dict[str, CardStatus | None]] = {
    CardStatus.ACTIVE: {
        "suspend": CardStatus.SUSPENDED,
        "report_lost": CardStatus.LOST,
        "enable": None,
        "cancel": CardStatus.CANCELLED,
    },
    CardStatus.SUSPENDED: {
        "suspend": None,
        "report_lost": CardStatus.LOST,
        "enable": CardStatus.ACTIVE,
        "cancel": CardStatus.CANCELLED,
    },
    CardStatus.LOST: {
        "suspend": None,
        "report_lost": None,
        "enable": CardStatus.ACTIVE,
        "cancel": CardStatus.CANCELLED,
    },
    CardStatus.CANCELLED: {"suspend": None, "report_lost": None, "enable": None, "cancel": None},
}
CARD_CELLS = [(s, a, t) for s, row in CARD_TABLE.items() for a, t in row.items()]


def test_card_table_matches_card_actions() -> None:
    """The table here is total and agrees with ecard.CARD_ACTIONS."""
    assert set(CARD_TABLE) == set(CardStatus)
    for status, row in CARD_TABLE.items():
        assert set(row) == set(ecard.CARD_ACTIONS)
        for action, target in row.items():
            allowed, to = ecard.CARD_ACTIONS[action]
            assert (status in allowed) is (target is not None) and (target in (None, to))


@pytest.mark.parametrize(
    ("status", "action", "target"), CARD_CELLS, ids=[f"{s}-{a}" for s, a, _ in CARD_CELLS]
)
def test_card_status_transitions(
    status: CardStatus, action: str, target: CardStatus | None
) -> None:
    """Allowed actions move the card; others are ticket_state_conflict (cancelled is final)."""
    if target is None:
        assert code_of(lambda: ecard.next_status(str(status), action)) == "ticket_state_conflict"
    else:
        assert ecard.next_status(str(status), action) is target


@pytest.mark.parametrize("action", ["delete", "", "ACTIVE", "enable "])
def test_unknown_card_action(action: str) -> None:
    """An action not in the table is invalid_request."""
    assert code_of(lambda: ecard.next_status("active", action)) == "invalid_request"


@pytest.mark.parametrize(
    ("status", "zh"),
    [
        ("suspended", "您的电子社保卡已暂停使用，无法扫码登录"),
        ("lost", "您的电子社保卡已挂失，无法扫码登录，请先解挂"),
        ("cancelled", "您的电子社保卡已注销，请重新申领"),
        ("bogus", "您的电子社保卡已注销，请重新申领"),
        ("", "您的电子社保卡已注销，请重新申领"),
    ],
)
def test_require_active_refuses_every_other_status(status: str, zh: str) -> None:
    """Only an active card logs in; others are ecard_not_active with their own message."""
    with pytest.raises(errors.EcardNotActive) as refused:
        ecard.require_active(status)
    assert refused.value.code == "ecard_not_active" and refused.value.status == 403
    assert refused.value.message_zh == zh and refused.value.message_en


def test_require_active_accepts_active() -> None:
    """An active card passes."""
    assert ecard.require_active("active") is None


def claims(**changes: Any) -> dict[str, Any]:
    app = ecard.validate_application(APPLICATION)
    return {**ecard.card_claims(app, card_no="E12345678AB", issuer=ISSUER, now=NOW), **changes}


def token(body: dict[str, Any] | None = None, *, key: Any = SIGNER, **header: Any) -> str:
    base = {"alg": key.alg, "kid": key.kid, "typ": ecard.TYP}
    head = {k: v for k, v in {**base, **header}.items() if v is not None}
    return jwt.encode(head, body or claims(), key, algorithms=ecard.ALGORITHMS)


def test_issue_and_read() -> None:
    """A card issued by our key reads back, bound to the device's thumbprint (cnf.jkt)."""
    card = ecard.read(ecard.issue(claims(), SIGNER), KEYS, issuer=ISSUER, now=NOW + 1)
    assert (card.card_no, card.name, card.id_number, card.phone) == (
        "E12345678AB",
        "张三",
        "11010519491231002X",
        "13800138000",
    )
    assert card.device_jwk == DEVICE_JWK and card.device_id == thumbprint(DEVICE_JWK)
    assert claims()["cnf"]["jkt"] == card.device_id
    assert claims()["exp"] == int(NOW + ecard.CARD_LIFETIME)


OTHER_ISSUER_KEY = jose(generate(Algorithm.ED25519), "ecard-1")
BAD_CARDS: dict[str, Callable[[], str]] = {
    "wrong typ": lambda: token(typ="JWT"),
    "no typ": lambda: token(typ=None),
    "no kid": lambda: token(kid=None),
    "wrong issuer": lambda: token(claims(iss="http://evil.example")),
    "no issuer": lambda: token({k: v for k, v in claims().items() if k != "iss"}),
    "expired": lambda: token(claims(exp=int(NOW))),
    "exp as text": lambda: token(claims(exp=str(int(NOW) + 999))),
    "no exp": lambda: token({k: v for k, v in claims().items() if k != "exp"}),
    "other issuer key, same kid": lambda: token(key=OTHER_ISSUER_KEY),
    "other issuer key, other kid": lambda: token(key=jose(generate(Algorithm.ES256), "ecard-2")),
    "no cnf": lambda: token({k: v for k, v in claims().items() if k != "cnf"}),
    "no name": lambda: token({k: v for k, v in claims().items() if k != "name"}),
    "altered claims": lambda: _swap_payload(token(), token(claims(name="李四"))),
    "garbage": lambda: "not.a.jwt",
    "empty": lambda: "",
    "unsigned": lambda: _unsigned(token()),
}


def _swap_payload(original: str, other: str) -> str:
    head, _, sig = original.split(".")
    return ".".join((head, other.split(".")[1], sig))


def _unsigned(original: str) -> str:
    head = b64u(b'{"alg":"none","typ":"ecard+jwt","kid":"ecard-1"}')
    return ".".join((head, original.split(".")[1], ""))


@pytest.mark.parametrize("case", list(BAD_CARDS))
def test_read_refusals(case: str) -> None:
    """A card that is not ours, not current, not an e-card or incomplete is ecard_invalid."""
    assert code_of(lambda: ecard.read(BAD_CARDS[case](), KEYS, issuer=ISSUER, now=NOW + 1)) == (
        "ecard_invalid"
    )


def test_card_numbers() -> None:
    """Card numbers are E, eight digits and four hex characters, and do not repeat."""
    numbers = {ecard.new_card_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(n[0] == "E" and n[1:9].isdigit() and len(n) == 13 for n in numbers)


def test_application_with_fullwidth_digits_is_refused() -> None:
    """The ID number on an application must be ASCII digits."""
    fullwidth = "1" + "".join(chr(ord(c) + 0xFEE0) for c in "1010519491231002") + "X"
    assert code_of(lambda: ecard.validate_application({**APPLICATION, "id_number": fullwidth})) == (
        "id_number_invalid"
    )
