"""Signature algorithms behind one interface, keyed by algorithm name and key id.

Adding a profile (SM2 with SM3 for the 国密 suite) means adding one `Algorithm` entry here;
the QR format and token code only ever name the algorithm. RS256 (RSA 2048, RFC 7518 §3.3)
exists for ID tokens only: OpenID Connect Discovery §3 requires it to be offered, and some
relying parties' libraries accept nothing else; the QR format and device keys never use it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
RSA_BITS = 2048  # RFC 7518 §3.3: 2048 bits or larger


class Algorithm(StrEnum):
    ED25519 = "Ed25519"
    ES256 = "ES256"
    RS256 = "RS256"


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
    if alg is Algorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    return ec.generate_private_key(ec.SECP256R1())


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return Algorithm.ED25519
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return Algorithm.RS256
    return Algorithm.ES256


def sign(key: PrivateKey, data: bytes) -> bytes:
    """Raw signatures (64 bytes for Ed25519 and ES256): r||s for ES256 as in JWS; RSASSA
    PKCS#1 v1.5 with SHA-256 for RS256 (RFC 7518 §3.3)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def compact_jws(header: Mapping[str, str], payload: Mapping[str, Any], key: PrivateKey) -> str:
    """A JWS in the compact serialization (RFC 7515 §7.1) over the JSON `payload`, signed with
    `key` as `sign` does, which is what RFC 7518 §3 asks of the header's `alg` (it must be the
    key's). The two first segments are joserfc's `jwt.encode` byte for byte (the header as
    ASCII JSON, the payload as UTF-8 JSON, both without spaces)."""
    if header.get("alg") != algorithm_of(key):
        raise ValueError(f"header alg {header.get('alg')!r} is not the key's")
    encoded = json.dumps(header, separators=(",", ":")).encode()
    claims = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    signing_input = f"{b64u(encoded)}.{b64u(claims)}"
    return f"{signing_input}.{b64u(sign(key, signing_input.encode()))}"


def _signature_size(key: PublicKey, alg: Algorithm) -> int:
    return key.key_size // 8 if isinstance(key, rsa.RSAPublicKey) else SIGNATURE_SIZES[alg]


def verify(key: PublicKey, alg: Algorithm, data: bytes, signature: bytes) -> bool:
    if algorithm_of(key) is not alg or len(signature) != _signature_size(key, alg):
        return False
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _uint(value: int) -> str:
    return b64u(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(key: PublicKey) -> dict[str, str]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    if isinstance(key, rsa.RSAPublicKey):
        rsa_numbers = key.public_numbers()
        return {"kty": "RSA", "n": _uint(rsa_numbers.n), "e": _uint(rsa_numbers.e)}
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u(numbers.x.to_bytes(32, "big")),
        "y": b64u(numbers.y.to_bytes(32, "big")),
    }


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """Only the two key types phones and QR codes use (never RSA); anything else is a
    ValueError."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if (kty, crv) == ("OKP", "Ed25519"):
        return _public_key("OKP", str(jwk["x"]), "")
    if (kty, crv) == ("EC", "P-256"):
        return _public_key("EC", str(jwk["x"]), str(jwk["y"]))
    raise ValueError("unsupported key type")


@lru_cache(maxsize=4096)
def _public_key(kty: str, x: str, y: str) -> PublicKey:
    """A phone's key is made once per process, not on each of its signed calls (a P-256 point
    is checked on the curve each time it is loaded: ~14 µs). Keys are immutable."""
    if kty == "OKP":
        return ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(x))
    px, py = (int.from_bytes(b64u_decode(c), "big") for c in (x, y))
    return ec.EllipticCurvePublicNumbers(px, py, ec.SECP256R1()).public_key()


_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of a key `public_key_from_jwk` accepts (a ValueError
    otherwise): the required members in lexicographic order, as compact JSON, hashed."""
    public_key_from_jwk(dict(jwk))
    members = {name: str(jwk[name]) for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    text = json.dumps(members, separators=(",", ":"))
    return b64u(hashlib.sha256(text.encode()).digest())


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """A public key as a verifier sees it: algorithm, key id, key, and whether it may verify."""

    kid: str
    alg: Algorithm
    key: PublicKey
    usable: bool = True
