"""Signature algorithms behind one interface, keyed by algorithm name and key id.

Adding a profile (SM2 with SM3 for the 国密 suite) means adding one `Algorithm` entry here;
the QR format and token code only ever name the algorithm.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc.jwk import import_key

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class Algorithm(StrEnum):
    ED25519 = "Ed25519"
    ES256 = "ES256"


# One byte per algorithm inside binary formats (the QR payload). 3 is reserved for SM2.
ALGORITHM_IDS: dict[Algorithm, int] = {Algorithm.ED25519: 1, Algorithm.ES256: 2}
ALGORITHMS_BY_ID = {v: k for k, v in ALGORITHM_IDS.items()}
SIGNATURE_SIZES = {Algorithm.ED25519: 64, Algorithm.ES256: 64}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    """Strict: only the URL-safe alphabet, so each payload has exactly one spelling."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def generate(alg: Algorithm) -> PrivateKey:
    if alg is Algorithm.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return Algorithm.ED25519
    return Algorithm.ES256


def sign(key: PrivateKey, data: bytes) -> bytes:
    """Raw signatures (64 bytes for both): r||s for ES256 as in JWS."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(key: PublicKey, alg: Algorithm, data: bytes, signature: bytes) -> bool:
    if algorithm_of(key) is not alg or len(signature) != SIGNATURE_SIZES[alg]:
        return False
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def public_jwk(key: PublicKey) -> dict[str, str]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u(numbers.x.to_bytes(32, "big")),
        "y": b64u(numbers.y.to_bytes(32, "big")),
    }


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """Only the two key types we accept; anything else is a ValueError."""
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(str(jwk["x"])))
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        x = int.from_bytes(b64u_decode(str(jwk["x"])), "big")
        y = int.from_bytes(b64u_decode(str(jwk["y"])), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    raise ValueError("unsupported key type")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256)."""
    return str(import_key(jwk).thumbprint())


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """A public key as a verifier sees it: algorithm, key id, key, and whether it may verify."""

    kid: str
    alg: Algorithm
    key: PublicKey
    usable: bool = True
