"""The signed QR payload: a compact binary format so the QR stays at version 9 (level M).

Layout (big-endian), then base64url in the URL `{issuer}/q/{payload}`:

    version(1)=1 | alg(1) | kid(8) | exp(4) | identity(1) | ticket(16) | len(1) | client | sig

The signature covers a domain tag, the issuer and every byte before it, so the algorithm, the
key id and the issuer are all bound inside what is signed; the issuer travels as the URL prefix.
"""

from __future__ import annotations

import binascii
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

from authsvc import errors
from authsvc.core.crypto import (
    ALGORITHM_IDS,
    ALGORITHMS_BY_ID,
    SIGNATURE_SIZES,
    PrivateKey,
    VerifyingKey,
    algorithm_of,
    b64u,
    b64u_decode,
    sign,
    verify,
)
from authsvc.core.tickets import Identity

FORMAT_VERSION = 1
DOMAIN = b"qrauth/qr/v1\x00"
IDENTITY_CODES = {Identity.PERSONAL: 1, Identity.LEGAL_REP: 2, Identity.AGENT: 3}
IDENTITIES_BY_CODE = {v: k for k, v in IDENTITY_CODES.items()}
_HEAD = struct.Struct(">BB8sIB16sB")
MAX_PAYLOAD_CHARS = 400


@dataclass(frozen=True, slots=True)
class QrClaims:
    issuer: str
    ticket_id: str
    client_id: str
    identity: Identity
    expires_at: int
    kid: str


def build(claims: QrClaims, key: PrivateKey) -> str:
    """The QR text for `claims`, signed with `key` (whose id is `claims.kid`)."""
    client = claims.client_id.encode()
    if len(client) > 255:
        raise ValueError("client id too long for the QR format")
    head = (
        _HEAD.pack(
            FORMAT_VERSION,
            ALGORITHM_IDS[algorithm_of(key)],
            bytes.fromhex(claims.kid),
            claims.expires_at,
            IDENTITY_CODES[claims.identity],
            b64u_decode(claims.ticket_id),
            len(client),
        )
        + client
    )
    signature = sign(key, _signed_bytes(claims.issuer, head))
    return f"{claims.issuer}/q/{b64u(head + signature)}"


def _signed_bytes(issuer: str, head: bytes) -> bytes:
    return DOMAIN + issuer.encode() + b"\x00" + head


def split(text: str) -> tuple[str, str]:
    """`{issuer}/q/{payload}` → (issuer, payload); anything else is not our QR."""
    issuer, sep, payload = text.strip().rpartition("/q/")
    if not sep or not issuer or not payload or len(payload) > MAX_PAYLOAD_CHARS:
        raise errors.QrInvalid("not a qrauth QR URL")
    return issuer, payload


def verify_text(
    text: str,
    *,
    trusted_issuers: frozenset[str] | set[str],
    resolve_key: Callable[[str], VerifyingKey | None],
    now: float,
) -> QrClaims:
    """Verify a QR text offline. Any input either verifies or raises QrInvalid/QrUnknownKey
    or TicketExpired; nothing else escapes."""
    claims, key, signed, signature = _read(text, trusted_issuers, resolve_key)
    if not verify(key.key, key.alg, signed, signature):
        raise errors.QrInvalid("bad signature")
    return _unexpired(claims, now)


def read_text(
    text: str,
    *,
    trusted_issuers: frozenset[str] | set[str],
    resolve_key: Callable[[str], VerifyingKey | None],
    now: float,
) -> QrClaims:
    """`verify_text` but for the signature, which is left to the caller: the broker compares a
    scanned text with the `digest` it kept of the QR it issued (its own record; the phone has
    verified the signature offline)."""
    claims, _, _, _ = _read(text, trusted_issuers, resolve_key)
    return _unexpired(claims, now)


def digest(text: str) -> str:
    """A QR text's SHA-256 (base64url), as `build` returned it or a scanner read it."""
    return b64u(hashlib.sha256(text.strip().encode()).digest())


def _read(
    text: str,
    trusted_issuers: frozenset[str] | set[str],
    resolve_key: Callable[[str], VerifyingKey | None],
) -> tuple[QrClaims, VerifyingKey, bytes, bytes]:
    """The claims, the key they name, the signed bytes and the signature."""
    issuer, payload = split(text)
    if issuer not in trusted_issuers:
        raise errors.QrInvalid(f"untrusted issuer {issuer[:80]!r}")
    try:
        raw = b64u_decode(payload)
    except (binascii.Error, ValueError) as exc:
        raise errors.QrInvalid("payload is not base64url") from exc
    claims, head, signature = _parse(raw, issuer)
    key = resolve_key(claims.kid)
    if key is None or not key.usable:
        raise errors.QrUnknownKey(f"kid {claims.kid}")
    if key.alg is not ALGORITHMS_BY_ID[raw[1]]:
        raise errors.QrInvalid("bad signature")
    return claims, key, _signed_bytes(issuer, head), signature


def _unexpired(claims: QrClaims, now: float) -> QrClaims:
    if now >= claims.expires_at:
        raise errors.TicketExpired("qr expired")
    return claims


def _parse(raw: bytes, issuer: str) -> tuple[QrClaims, bytes, bytes]:
    if len(raw) < _HEAD.size:
        raise errors.QrInvalid("payload too short")
    version, alg_id, kid, exp, identity, ticket, client_len = _HEAD.unpack_from(raw)
    if version != FORMAT_VERSION or alg_id not in ALGORITHMS_BY_ID:
        raise errors.QrInvalid("unknown format or algorithm")
    if identity not in IDENTITIES_BY_CODE:
        raise errors.QrInvalid("unknown identity")
    head_len = _HEAD.size + client_len
    if len(raw) != head_len + SIGNATURE_SIZES[ALGORITHMS_BY_ID[alg_id]]:
        raise errors.QrInvalid("wrong length")
    try:
        client_id = raw[_HEAD.size : head_len].decode()
    except UnicodeDecodeError as exc:
        raise errors.QrInvalid("client id is not UTF-8") from exc
    claims = QrClaims(
        issuer=issuer,
        ticket_id=b64u(ticket),
        client_id=client_id,
        identity=IDENTITIES_BY_CODE[identity],
        expires_at=exp,
        kid=kid.hex(),
    )
    return claims, raw[:head_len], raw[head_len:]
