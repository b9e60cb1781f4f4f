"""The compact signed QR format (authsvc/core/qr.py): round trip, every refusal, a fuzz contract."""

from __future__ import annotations

import io
import struct

import pytest
import zxingcpp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from authsvc import errors, qrimage
from authsvc.core import qr
from authsvc.core.crypto import (
    ALGORITHM_IDS,
    Algorithm,
    PrivateKey,
    VerifyingKey,
    b64u,
    b64u_decode,
    generate,
    sign,
)
from authsvc.core.tickets import Identity, new_ticket_id

ISSUER = "http://127.0.0.1:8700"
KID = "0123456789abcdef"
NOW = 1_800_000_000
EXP = NOW + 120
ALGS = [Algorithm.ED25519, Algorithm.ES256]
KEYS: dict[Algorithm, PrivateKey] = {alg: generate(alg) for alg in ALGS}
DOCUMENTED = (errors.QrInvalid, errors.QrUnknownKey, errors.TicketExpired)
FUZZ = settings(max_examples=300, deadline=None, database=None)
KID_BYTES = range(2, 10)  # version(1) alg(1) kid(8) ...


def claims(**changes: object) -> qr.QrClaims:
    base = {
        "issuer": ISSUER,
        "ticket_id": new_ticket_id(),
        "client_id": "hall",
        "identity": Identity.PERSONAL,
        "expires_at": EXP,
        "kid": KID,
    }
    return qr.QrClaims(**{**base, **changes})  # type: ignore[arg-type]


def keys(alg: Algorithm, *, usable: bool = True) -> dict[str, VerifyingKey]:
    return {KID: VerifyingKey(KID, alg, KEYS[alg].public_key(), usable=usable)}


def verify(
    text: str,
    known: dict[str, VerifyingKey],
    *,
    now: float = NOW,
    issuers: frozenset[str] = frozenset({ISSUER}),
) -> qr.QrClaims:
    return qr.verify_text(text, trusted_issuers=issuers, resolve_key=known.get, now=now)


def code_of(text: str, known: dict[str, VerifyingKey], **kw: object) -> str:
    with pytest.raises(errors.QrAuthError) as refused:
        verify(text, known, **kw)  # type: ignore[arg-type]
    return refused.value.code


def raw_of(text: str) -> bytes:
    return b64u_decode(qr.split(text)[1])


def text_of(raw: bytes, issuer: str = ISSUER) -> str:
    return f"{issuer}/q/{b64u(raw)}"


def signed(head: bytes, key: PrivateKey, issuer: str = ISSUER) -> str:
    """A correctly signed payload around any head, to test checks that come before the signature."""
    return text_of(head + sign(key, qr.DOMAIN + issuer.encode() + b"\x00" + head), issuer)


@pytest.fixture(params=ALGS, ids=str)
def alg(request: pytest.FixtureRequest) -> Algorithm:
    return Algorithm(request.param)


@pytest.mark.parametrize("identity", list(Identity))
@pytest.mark.parametrize("client_id", ["hall", "portal", "人社大厅", "c" * 40])
def test_round_trip(alg: Algorithm, identity: Identity, client_id: str) -> None:
    """What build() signs, verify_text() returns unchanged, for both key types."""
    c = claims(identity=identity, client_id=client_id)
    text = qr.build(c, KEYS[alg])
    assert text.startswith(ISSUER + "/q/") and verify(text, keys(alg)) == c
    assert raw_of(text)[1] == ALGORITHM_IDS[alg]


def test_every_flipped_byte_is_refused(alg: Algorithm) -> None:
    """Any single changed byte is refused: qr_unknown_key inside the kid, qr_invalid elsewhere."""
    raw = raw_of(qr.build(claims(), KEYS[alg]))
    for position in range(len(raw)):
        for mask in (0x01, 0x80, 0xFF):
            altered = bytearray(raw)
            altered[position] ^= mask
            want = "qr_unknown_key" if position in KID_BYTES else "qr_invalid"
            assert code_of(text_of(bytes(altered)), keys(alg)) == want, (position, mask)


@pytest.mark.parametrize("other_alg", ALGS, ids=str)
def test_forged_signature_with_the_same_kid(alg: Algorithm, other_alg: Algorithm) -> None:
    """A QR signed by any other key that claims our kid is qr_invalid (whatever its algorithm)."""
    forged = qr.build(claims(), generate(other_alg))
    assert code_of(forged, keys(alg)) == "qr_invalid"


def test_unknown_kid(alg: Algorithm) -> None:
    """A kid the verifier does not know is qr_unknown_key."""
    text = qr.build(claims(kid="fedcba9876543210"), KEYS[alg])
    assert code_of(text, keys(alg)) == "qr_unknown_key"


def test_unusable_key_is_unknown(alg: Algorithm) -> None:
    """A key past its grace period (usable=False) is treated as unknown."""
    assert code_of(qr.build(claims(), KEYS[alg]), keys(alg, usable=False)) == "qr_unknown_key"


def test_untrusted_issuer(alg: Algorithm) -> None:
    """A QR for an issuer the verifier does not trust is qr_invalid, even if correctly signed."""
    text = qr.build(claims(issuer="http://evil.example"), KEYS[alg])
    assert code_of(text, keys(alg)) == "qr_invalid"


def test_issuer_is_bound_by_the_signature(alg: Algorithm) -> None:
    """Moving a payload under another trusted issuer's prefix breaks the signature."""
    other = "https://auth.example.gov.cn"
    raw = raw_of(qr.build(claims(), KEYS[alg]))
    moved = text_of(raw, other)
    assert code_of(moved, keys(alg), issuers=frozenset({ISSUER, other})) == "qr_invalid"


def test_expiry(alg: Algorithm) -> None:
    """A QR verifies until one second before exp and is ticket_expired from exp on."""
    text = qr.build(claims(), KEYS[alg])
    assert verify(text, keys(alg), now=EXP - 1).expires_at == EXP
    assert code_of(text, keys(alg), now=EXP) == "ticket_expired"
    assert code_of(text, keys(alg), now=EXP + 86_400) == "ticket_expired"


def test_expired_and_forged_is_invalid_not_expired(alg: Algorithm) -> None:
    """The signature is checked before expiry: a forged, expired QR says nothing about expiry."""
    forged = qr.build(claims(expires_at=NOW - 10), generate(alg))
    assert code_of(forged, keys(alg)) == "qr_invalid"


def test_truncated(alg: Algorithm) -> None:
    """Any truncation of the payload (bytes or characters) is qr_invalid."""
    text = qr.build(claims(), KEYS[alg])
    raw = raw_of(text)
    for cut in range(1, len(raw)):
        assert code_of(text_of(raw[:-cut]), keys(alg)) == "qr_invalid", cut
    for cut in range(1, len(text) - len(ISSUER) - 3):
        assert code_of(text[:-cut], keys(alg)) == "qr_invalid", cut


@pytest.mark.parametrize(
    ("field", "value"),
    [("version", 2), ("version", 0), ("alg", 3), ("alg", 0), ("identity", 0), ("identity", 4)],
)
def test_unknown_format_fields_even_when_signed(alg: Algorithm, field: str, value: int) -> None:
    """An unknown version, algorithm or identity byte is qr_invalid even under a valid signature."""
    fields = {"version": 1, "alg": ALGORITHM_IDS[alg], "identity": 1, field: value}
    head = (
        struct.pack(
            ">BB8sIB16sB",
            fields["version"],
            fields["alg"],
            bytes.fromhex(KID),
            EXP,
            fields["identity"],
            b"\x07" * 16,
            4,
        )
        + b"hall"
    )
    assert code_of(signed(head, KEYS[alg]), keys(alg)) == "qr_invalid"


def test_client_id_must_be_utf8(alg: Algorithm) -> None:
    """A signed payload whose client id is not UTF-8 is qr_invalid, not a crash."""
    head = (
        struct.pack(
            ">BB8sIB16sB", 1, ALGORITHM_IDS[alg], bytes.fromhex(KID), EXP, 1, b"\x07" * 16, 2
        )
        + b"\xff\xfe"
    )
    assert code_of(signed(head, KEYS[alg]), keys(alg)) == "qr_invalid"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "hello",
        ISSUER,
        ISSUER + "/q/",
        "/q/AAAA",
        ISSUER + "/q/é",
        ISSUER + "/q/A",
        ISSUER + "/q/" + "A" * 401,
        ISSUER + "/q/" + "A" * 400,
        "https://evil.example/q/AAAA",
        ISSUER + "/q/%00%00",
        "WIFI:S:cafe;T:WPA;P:secret;;",
        ISSUER + "/q/" + "=" * 8,
    ],
)
def test_garbage_is_invalid(text: str) -> None:
    """Anything that is not a QR of ours is qr_invalid."""
    assert code_of(text, keys(Algorithm.ED25519)) == "qr_invalid"


@pytest.mark.parametrize("issuer", [ISSUER, "https://auth.hrss.example.gov.cn"])
@pytest.mark.parametrize("client_id", ["hall", "portal", "social-security-hall-01"])
def test_fits_version_10_at_level_m(alg: Algorithm, issuer: str, client_id: str) -> None:
    """The QR text for realistic issuers and client ids fits QR version ≤ 10 at EC level M."""
    text = qr.build(claims(issuer=issuer, client_id=client_id), KEYS[alg])
    matrix = qrimage.encode(text)
    assert matrix.version <= 10, (len(text), matrix.version)
    decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(qrimage.png(matrix, scale=4))))
    assert decoded is not None and decoded.text == text and decoded.ec_level == "M"


def test_client_id_longer_than_the_format_allows() -> None:
    """build() refuses a client id over 255 bytes rather than writing a corrupt length byte."""
    with pytest.raises(ValueError, match="too long"):
        qr.build(claims(client_id="x" * 256), KEYS[Algorithm.ED25519])


def _verify_or_documented(text: str) -> None:
    known = {
        KID: VerifyingKey(KID, Algorithm.ED25519, KEYS[Algorithm.ED25519].public_key()),
        "00" * 8: VerifyingKey("00" * 8, Algorithm.ES256, KEYS[Algorithm.ES256].public_key()),
    }
    try:
        result = verify(text, known)
    except errors.QrAuthError as exc:
        assert type(exc) in DOCUMENTED, type(exc)
    else:
        assert isinstance(result, qr.QrClaims) and result.issuer == ISSUER


@FUZZ
@given(st.text())
@example(ISSUER + "/q/" + "\udcff")
@example(ISSUER + "/q/" + "A" * 43)
def test_any_text_verifies_or_raises_a_documented_error(text: str) -> None:
    """Any text either verifies or raises QrInvalid, QrUnknownKey or TicketExpired."""
    _verify_or_documented(text)


@FUZZ
@given(st.binary(max_size=400))
def test_any_payload_bytes_verify_or_raise_a_documented_error(payload: bytes) -> None:
    """Any bytes under our issuer's prefix either verify or raise a documented error."""
    _verify_or_documented(text_of(payload))


@FUZZ
@given(
    st.sampled_from([0, 1, 2, 3, 255]),
    st.sampled_from([KID, "00" * 8, "ff" * 8]),
    st.integers(0, 2**32 - 1),
    st.integers(0, 5),
    st.binary(min_size=16, max_size=16),
    st.binary(max_size=40),
    st.integers(0, 255),
    st.binary(max_size=80),
)
def test_well_shaped_payloads_verify_or_raise_a_documented_error(
    version: int,
    kid: str,
    exp: int,
    identity: int,
    ticket: bytes,
    client: bytes,
    length: int,
    tail: bytes,
) -> None:
    """Payloads with a plausible head, arbitrary lengths and signatures obey the same contract."""
    head = struct.pack(
        ">BB8sIB16sB",
        version,
        2 if kid == "00" * 8 else 1,
        bytes.fromhex(kid),
        exp,
        identity,
        ticket,
        length,
    )
    _verify_or_documented(text_of(head + client + tail))


@pytest.mark.parametrize("scale", [1, 3])
def test_the_png_holds_the_symbol_with_its_quiet_zone(scale: int) -> None:
    """The hand-written PNG, decoded by Pillow: each module `scale`×`scale` pixels, black where
    the symbol is dark, and a light quiet zone of 4 modules around it."""
    matrix = qrimage.encode(qr.build(claims(), KEYS[Algorithm.ED25519]))
    image = Image.open(io.BytesIO(qrimage.png(matrix, scale=scale)))
    image.load()  # checks every chunk's CRC and the zlib stream
    full = matrix.size + 2 * qrimage.QUIET_ZONE
    assert image.mode == "L" and image.size == (full * scale, full * scale)
    expected = bytearray(b"\xff" * full * full)
    for y in range(matrix.size):
        row = matrix.pixels[y * matrix.size : (y + 1) * matrix.size]
        start = (y + qrimage.QUIET_ZONE) * full + qrimage.QUIET_ZONE
        expected[start : start + matrix.size] = row
    modules = image.resize((full, full), Image.Resampling.NEAREST).tobytes()
    assert modules == bytes(expected)
    assert set(image.tobytes()) == {0, 255}
