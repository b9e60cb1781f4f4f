"""Signed phone requests: what is signed, and the checks a verifier makes (no I/O).

canonical = "QRAUTH-DEVICE-V1" \\n METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex(sha256(body))
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authsvc import errors
from authsvc.core.crypto import (
    Algorithm,
    PrivateKey,
    PublicKey,
    algorithm_of,
    b64u,
    b64u_decode,
    public_jwk,
    public_key_from_jwk,
    sign,
    thumbprint,
    verify,
)

TAG = "QRAUTH-DEVICE-V1"
HEADER_KEY_ID = "X-Device-Key-Id"
HEADER_TIMESTAMP = "X-Device-Timestamp"
HEADER_NONCE = "X-Device-Nonce"
HEADER_SIGNATURE = "X-Device-Signature"
HEADER_ECARD = "X-Ecard"


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((TAG, method.upper(), path, timestamp, nonce, digest)).encode()


def signed_headers(
    key: PrivateKey, *, method: str, path: str, body: bytes, timestamp: int, nonce: str
) -> dict[str, str]:
    """The headers a phone sends (used by mobile_sim and the benchmarks)."""
    message = canonical(method, path, str(timestamp), nonce, body)
    return {
        HEADER_KEY_ID: thumbprint(public_jwk(key.public_key())),
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: b64u(sign(key, message)),
    }


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


def verify_request(
    request: SignedRequest,
    device_jwk: Mapping[str, Any],
    *,
    now: float,
    max_skew: float,
    device_id: str = "",
) -> str:
    """Check the signature against `device_jwk`; returns the device id (its thumbprint, which
    the caller may pass in when it already has it).

    Replay of the nonce is the caller's job (it needs a store)."""
    headers = request.headers
    try:
        key_id = headers[HEADER_KEY_ID]
        timestamp = headers[HEADER_TIMESTAMP]
        nonce = headers[HEADER_NONCE]
        signature = b64u_decode(headers[HEADER_SIGNATURE])
        key: PublicKey = public_key_from_jwk(dict(device_jwk))
        expected_id = device_id or thumbprint(dict(device_jwk))
        if not (key_id.isascii() and timestamp.isascii() and nonce.isascii()):
            raise ValueError("non-ASCII device header")
        moment = int(timestamp)
    except (KeyError, ValueError, TypeError) as exc:
        raise errors.DeviceSignatureInvalid("missing or malformed device headers") from exc
    if not 16 <= len(nonce) <= 64 or abs(now - moment) > max_skew:
        raise errors.DeviceSignatureInvalid("nonce or timestamp out of bounds")
    if not hmac.compare_digest(key_id.encode(), expected_id.encode()):
        raise errors.DeviceMismatch("key id does not match the device key")
    message = canonical(request.method, request.path, timestamp, nonce, request.body)
    if not verify(key, algorithm_of(key), message, signature):
        raise errors.DeviceSignatureInvalid("bad signature")
    return expected_id


__all__ = ["Algorithm", "SignedRequest", "canonical", "signed_headers", "verify_request"]
