"""docs/protocol.md is a specification a third-party app can implement from: its examples are
rebuilt here by an independent implementation written from the document alone (struct,
hashlib and `cryptography`, no authsvc code), compared byte for byte with the document, and
then checked against the reference code (authsvc.core.qr, authsvc.core.device)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from authsvc import errors
from authsvc.core import device, qr
from authsvc.core.crypto import Algorithm, VerifyingKey, thumbprint
from authsvc.core.tickets import Identity

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
RFC8032_KEY_1 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"


def example(name: str) -> dict[str, str]:
    """The `key: value` lines of the document's ```example-{name} block."""
    block = re.search(rf"```example-{name}\n(.*?)\n```", DOC, re.S)
    assert block, f"docs/protocol.md has no example-{name} block"
    return dict(line.split(": ", 1) for line in block.group(1).splitlines())


def b64url(data: bytes) -> str:
    """Section 1: RFC 4648 §5, no padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_KEY_1))
QR = example("qr")
DEVICE = example("device")


def spec_head(fields: dict[str, str]) -> bytes:
    """Section 2.2, field by field."""
    client = fields["client_id"].encode()
    return (
        struct.pack(">BB", 1, 1)  # version 1, alg 1 = Ed25519
        + bytes.fromhex(fields["kid"])
        + struct.pack(">IB", int(fields["exp"]), int(fields["identity"]))
        + unb64url(fields["ticket_id"])
        + struct.pack(">B", len(client))
        + client
    )


def test_the_documented_qr_is_what_the_specification_builds() -> None:
    """head, signed bytes, signature and text of example-qr follow from sections 2.1–2.3."""
    head = spec_head(QR)
    assert head.hex() == QR["head"] and len(head) == 32 + len(QR["client_id"])
    signed = b"qrauth/qr/v1\x00" + QR["issuer"].encode() + b"\x00" + head
    assert signed.hex() == QR["signed"]
    signature = KEY.sign(signed)
    assert signature.hex() == QR["signature"]
    assert QR["text"] == f"{QR['issuer']}/q/{b64url(head + signature)}"
    assert len(QR["text"].rsplit("/q/", 1)[1]) <= 400


def test_the_reference_code_builds_and_verifies_the_documented_qr() -> None:
    """authsvc.core.qr makes the same text from the same claims and accepts it."""
    claims = qr.QrClaims(
        issuer=QR["issuer"],
        ticket_id=QR["ticket_id"],
        client_id=QR["client_id"],
        identity=Identity.AGENT,
        expires_at=int(QR["exp"]),
        kid=QR["kid"],
    )
    assert qr.build(claims, KEY) == QR["text"]
    verifying = VerifyingKey(kid=QR["kid"], alg=Algorithm.ED25519, key=KEY.public_key())
    got = qr.verify_text(
        QR["text"],
        trusted_issuers={QR["issuer"]},
        resolve_key=lambda kid: verifying if kid == QR["kid"] else None,
        now=int(QR["exp"]) - 1,
    )
    assert got == claims
    assert qr.IDENTITY_CODES[Identity.AGENT] == int(QR["identity"])


@pytest.mark.parametrize("offset", [0, 1, 2, 10, 14, 15, 31, 32, 38, 101])
def test_changing_any_documented_field_breaks_the_qr(offset: int) -> None:
    """Every byte of the layout is covered: flipping one is refused by the reference verifier."""
    raw = bytearray(unb64url(QR["text"].rsplit("/q/", 1)[1]))
    raw[offset] ^= 0x01
    verifying = VerifyingKey(kid=QR["kid"], alg=Algorithm.ED25519, key=KEY.public_key())
    with pytest.raises(errors.QrAuthError) as refused:
        qr.verify_text(
            f"{QR['issuer']}/q/{b64url(bytes(raw))}",
            trusted_issuers={QR["issuer"]},
            resolve_key=lambda kid: verifying if kid == QR["kid"] else None,
            now=int(QR["exp"]) - 1,
        )
    assert refused.value.code in ("qr_invalid", "qr_unknown_key")


def spec_canonical(fields: dict[str, str]) -> bytes:
    """Section 3.1."""
    digest = hashlib.sha256(fields["body"].encode()).hexdigest()
    parts = ["QRAUTH-DEVICE-V1", fields["method"], fields["path"], fields["timestamp"]]
    return "\n".join([*parts, fields["nonce"], digest]).encode("ascii")


def test_the_documented_device_signature_is_what_the_specification_builds() -> None:
    """Body digest, canonical string, RFC 7638 key id and signature of example-device."""
    assert hashlib.sha256(DEVICE["body"].encode()).hexdigest() == DEVICE["body_sha256"]
    assert json.loads(DEVICE["body"]) == {"qr": QR["text"]}
    assert DEVICE["path"] == f"/api/mobile/tickets/{QR['ticket_id']}/scan"
    shown = re.search(r"is \(shown with `\\n` for LF\):\n\n```\n(.*?)\n```", DOC, re.S)
    assert shown and shown.group(1).replace("\\n", "\n").encode() == spec_canonical(DEVICE)
    raw_public = KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    jwk = json.loads(DEVICE["jwk"])
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public)}
    members = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    assert b64url(hashlib.sha256(members.encode()).digest()) == DEVICE["X-Device-Key-Id"]
    assert b64url(KEY.sign(spec_canonical(DEVICE))) == DEVICE["X-Device-Signature"]


def test_the_reference_code_signs_and_verifies_the_documented_request() -> None:
    """authsvc.core.device makes the same headers and accepts them within the clock skew."""
    body = DEVICE["body"].encode()
    headers = device.signed_headers(
        KEY,
        method=DEVICE["method"],
        path=DEVICE["path"],
        body=body,
        timestamp=int(DEVICE["timestamp"]),
        nonce=DEVICE["nonce"],
    )
    assert headers == {
        "X-Device-Key-Id": DEVICE["X-Device-Key-Id"],
        "X-Device-Timestamp": DEVICE["timestamp"],
        "X-Device-Nonce": DEVICE["nonce"],
        "X-Device-Signature": DEVICE["X-Device-Signature"],
    }
    jwk = json.loads(DEVICE["jwk"])
    assert thumbprint(jwk) == DEVICE["X-Device-Key-Id"]
    request = device.SignedRequest(DEVICE["method"], DEVICE["path"], headers, body)
    now = int(DEVICE["timestamp"]) + 300
    assert device.verify_request(request, jwk, now=now, max_skew=300) == thumbprint(jwk)
    with pytest.raises(errors.DeviceSignatureInvalid):
        device.verify_request(request, jwk, now=now + 1, max_skew=300)


def test_the_empty_body_digest_is_the_documented_one() -> None:
    """GET requests sign the SHA-256 of zero bytes, as section 3.1 says."""
    assert hashlib.sha256(b"").hexdigest() in DOC
    assert device.canonical("get", "/api/mobile/ecard", "1", "n" * 16, b"").endswith(
        hashlib.sha256(b"").hexdigest().encode()
    )
