"""In-process CPU figures: one ticket's QR, device signatures (sign and verify), and the two
JOSE calls of a login (e-card read, ID token sign) as authsvc makes them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from authsvc import qrimage
from authsvc.core import ecard, qr
from authsvc.core.acr import ACR_FACE as ACR
from authsvc.core.acr import AMR_FACE as AMR
from authsvc.core.crypto import Algorithm, generate, public_jwk, sign, verify
from authsvc.core.device import canonical
from authsvc.core.oidc import claims as oidc_claims
from authsvc.core.tickets import Identity
from authsvc.keyring import Keyring, Purpose
from authsvc.services import tokens
from authsvc.services.broker import Broker


def _cpu_per_call(work: Callable[[], object], count: int) -> float:
    """CPU seconds (this process, all threads) per call, after a short warm-up."""
    for _ in range(min(50, count)):
        work()
    start = time.process_time()
    for _ in range(count):
        work()
    return (time.process_time() - start) / count


def qr_cost(keys_dir: Path, issuer: str, count: int) -> dict[str, Any]:
    """A ticket's QR when the broker draws it: qr.build (sign, as POST /api/tickets does) +
    qrimage.encode + qrimage.png (as /api/qr.png does), with the server's own current QR key.
    The QR page draws its QR itself (static/qr_draw.js, since the eleventh session of issue 14):
    a login spends only the signature, which `signatures` counts."""
    keyring = Keyring.load_or_create(keys_dir, now=time.time())
    record, key = keyring.current(Purpose.QR)
    expires = int(time.time()) + 120

    def claims() -> qr.QrClaims:
        return qr.QrClaims(
            issuer=issuer,
            ticket_id=secrets.token_urlsafe(16),
            client_id="hall",
            identity=Identity.PERSONAL,
            expires_at=expires,
            kid=record.kid,
        )

    text = qr.build(claims(), key)
    matrix = qrimage.encode(text)
    part = max(count // 4, 100)
    build_s = _cpu_per_call(lambda: qr.build(claims(), key), part)
    encode_s = _cpu_per_call(lambda: qrimage.encode(text), part)
    png_s = _cpu_per_call(lambda: qrimage.png(matrix), part)
    whole_s = _cpu_per_call(lambda: qrimage.png(qrimage.encode(qr.build(claims(), key))), count)
    return {
        "qr_ms_per_ticket": round(whole_s * 1e3, 4),
        "qr_parts_us": {
            "build_sign": round(build_s * 1e6, 1),
            "encode": round(encode_s * 1e6, 1),
            "png": round(png_s * 1e6, 1),
        },
        "qr_alg": str(record.alg),
        "qr_version": matrix.version,
        "qr_samples": count,
    }


def sign_verify(count: int) -> dict[str, dict[str, float]]:
    """µs per sign and per verify with authsvc.core.crypto, over a device request's canonical
    bytes (the message every phone call signs)."""
    message = canonical(
        "POST",
        "/api/mobile/tickets/" + "A" * 22 + "/confirm",
        str(int(time.time())),
        secrets.token_urlsafe(16),
        b"{}",
    )
    out: dict[str, dict[str, float]] = {}
    for alg in (Algorithm.ED25519, Algorithm.ES256):
        out[str(alg)] = _sign_verify_one(alg, message, count)
    return out


def _sign_verify_one(alg: Algorithm, message: bytes, count: int) -> dict[str, float]:
    key = generate(alg)
    public = key.public_key()
    signature = sign(key, message)
    assert verify(public, alg, message, signature)
    sign_s = _cpu_per_call(lambda: sign(key, message), count)
    verify_s = _cpu_per_call(lambda: verify(public, alg, message, signature), count)
    return {"sign": round(sign_s * 1e6, 1), "verify": round(verify_s * 1e6, 1)}


def key_algorithms(keys_dir: Path) -> dict[str, str]:
    """The algorithm of the server's current key for each purpose (qr, ecard, token)."""
    keyring = Keyring.load_or_create(keys_dir, now=time.time())
    return {str(p): str(keyring.current_record(p).alg) for p in Purpose}


def jose_us(keys_dir: Path, issuer: str, device_alg: Algorithm, count: int) -> dict[str, float]:
    """µs of CPU per whole JOSE call with the server's keys: `ecard.read` of a card as
    ecards.active_card reads it on every phone request, and `tokens.sign_jwt` of an ID token as
    tokens.redeem signs it (JSON, base64url, key lookup and the signature)."""
    keyring = Keyring.load_or_create(keys_dir, now=time.time())
    now = time.time()
    person = ("张三", "11010519491231002X", "13800000000")
    device_jwk = public_jwk(generate(device_alg).public_key())
    application = ecard.Application(*person, device_jwk=device_jwk)
    card_no = ecard.new_card_number()
    _, ecard_key = keyring.jose_signing_key(Purpose.ECARD)
    card = ecard.issue(
        ecard.card_claims(application, card_no=card_no, issuer=issuer, now=now), ecard_key
    )
    keys = keyring.jose_keyset(Purpose.ECARD, now=now)
    ecard.read(card, keys, issuer=issuer, now=now)
    grant = {
        "client_id": "hall",
        "request": {
            "nonce": secrets.token_urlsafe(8),
            "scope": ["openid", "profile", "account", "id_number"],
        },
        "subject": {"name": person[0], "id_number": person[1], "phone": person[2]},
        "account": {"key": "personal:", "role": "personal", "name": person[0]},
        "auth_time": int(now),
        "acr": ACR,
        "amr": list(AMR),
        "sid": secrets.token_hex(16),
    }
    sub = secrets.token_urlsafe(24)
    claims = oidc_claims.id_token_claims(
        grant,
        issuer=issuer,
        sub=sub,
        now=now,
        ttl=600,
        allowed=oidc_claims.claims_of(oidc_claims.SCOPES),
    )
    broker = cast(Broker, SimpleNamespace(keyring=keyring))  # sign_jwt reads only the keyring
    read_s = _cpu_per_call(lambda: ecard.read(card, keys, issuer=issuer, now=now), count)
    sign_s = _cpu_per_call(lambda: tokens.sign_jwt(broker, claims), count)
    return {"ecard_read": round(read_s * 1e6, 1), "id_token_sign_jwt": round(sign_s * 1e6, 1)}
