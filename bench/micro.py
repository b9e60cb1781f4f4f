"""In-process CPU figures: one ticket's QR, and device signatures (sign and verify)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from authsvc import qrimage
from authsvc.core import qr
from authsvc.core.crypto import Algorithm, generate, sign, verify
from authsvc.core.device import canonical
from authsvc.core.ticket import Identity
from authsvc.keyring import Keyring, Purpose


def _cpu_per_call(work: Callable[[], object], count: int) -> float:
    """CPU seconds (this process, all threads) per call, after a short warm-up."""
    for _ in range(min(50, count)):
        work()
    start = time.process_time()
    for _ in range(count):
        work()
    return (time.process_time() - start) / count


def qr_cost(keys_dir: Path, issuer: str, count: int) -> dict[str, Any]:
    """What POST /api/tickets spends on the QR: qr.build (sign) + qrimage.encode + qrimage.png,
    with the server's own current QR key (browser.qr_text and browser._ticket_view)."""
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
