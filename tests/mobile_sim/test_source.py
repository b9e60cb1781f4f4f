"""What the camera sees: screenshots and text in, QR text or a documented refusal out (no I/O)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from authsvc.core import qr
from authsvc.core.crypto import Algorithm, generate, public_jwk
from authsvc.core.tickets import Identity
from mobile_sim import PhoneApp, PhoneError
from mobile_sim.source import decode_image, read_source

TEXT = "http://127.0.0.1:8700/q/AQE3MSC3qwqv5GsEhh0BmB9cn_v0zhA"


def _qr_image(text: str, *, mode: str = "L") -> Image.Image:
    image = qrcode.make(text, box_size=6, border=4).get_image().convert(mode)
    return image


def _bytes(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_screenshots_in_common_formats_decode(fmt: str) -> None:
    """PNG, JPEG, GIF, BMP and WebP screenshots all read back the exact QR text."""
    assert decode_image(_bytes(_qr_image(TEXT, mode="RGB"), fmt)) == TEXT


def test_a_transparent_png_is_read_on_white() -> None:
    """A QR drawn black on a transparent background does not turn black-on-black."""
    grey = _qr_image(TEXT)
    image = Image.new("RGBA", grey.size, (0, 0, 0, 0))
    image.putalpha(grey.point(lambda v: 255 if v < 128 else 0))
    assert decode_image(_bytes(image, "PNG")) == TEXT


def test_a_qr_inside_a_larger_screenshot_is_found() -> None:
    """The QR may be a small part of a full-screen capture."""
    screen = Image.new("RGB", (1280, 800), (238, 243, 249))
    screen.paste(_qr_image(TEXT, mode="RGB"), (700, 200))
    assert decode_image(_bytes(screen, "PNG")) == TEXT


def test_an_image_without_a_qr_is_refused() -> None:
    """A picture with no QR code: qr_not_found."""
    with pytest.raises(PhoneError) as refused:
        decode_image(_bytes(Image.new("RGB", (200, 200), "white"), "PNG"))
    assert refused.value.code == "qr_not_found"


def test_two_different_qrs_are_ambiguous() -> None:
    """Two different QR codes in one image: the phone will not guess which one was meant."""
    screen = Image.new("RGB", (900, 450), "white")
    screen.paste(_qr_image(TEXT, mode="RGB"), (10, 10))
    screen.paste(_qr_image(TEXT + "x", mode="RGB"), (460, 10))
    with pytest.raises(PhoneError) as refused:
        decode_image(_bytes(screen, "PNG"))
    assert refused.value.code == "qr_ambiguous"


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\nnot really", b"\xff\xd8\xff" + b"\x00" * 40])
def test_broken_images_are_refused(data: bytes) -> None:
    """Bytes that claim to be an image but are not: image_unreadable."""
    with pytest.raises(PhoneError) as refused:
        decode_image(data)
    assert refused.value.code == "image_unreadable"


def test_huge_images_are_refused_before_decoding() -> None:
    """More than 40 million pixels is refused from the header alone."""
    with pytest.raises(PhoneError) as refused:
        decode_image(_bytes(Image.new("1", (8000, 6000)), "PNG"))
    assert refused.value.code == "image_too_large"


def test_source_is_a_file_or_the_text(tmp_path: Path) -> None:
    """A path reads the file; QR text stays text; a missing file is a usage error."""
    (tmp_path / "qr.png").write_bytes(_bytes(_qr_image(TEXT), "PNG"))
    assert read_source(str(tmp_path / "qr.png")) == TEXT
    assert read_source(TEXT) == TEXT
    with pytest.raises(PhoneError) as missing:
        read_source(str(tmp_path / "missing.png"))
    assert missing.value.code == "file_not_found"


def _offline_phone(tmp_path: Path) -> tuple[PhoneApp, str]:
    """A phone with a pinned key and no broker at all, and a genuine QR signed by that key."""
    key = generate(Algorithm.ED25519)
    phone = PhoneApp.open(tmp_path / "phone", "http://127.0.0.1:1")
    phone.state.pin(
        "http://127.0.0.1:1", [{**public_jwk(key.public_key()), "kid": "0011223344556677"}]
    )
    claims = qr.QrClaims(
        issuer="http://127.0.0.1:1",
        ticket_id="A" * 22,
        client_id="hall",
        identity=Identity.PERSONAL,
        expires_at=int(time.time()) + 600,
        kid="0011223344556677",
    )
    return phone, qr.build(claims, key)


def test_a_genuine_qr_verifies_offline(tmp_path: Path) -> None:
    """Against the pinned key alone, a genuine QR verifies without any network."""
    phone, text = _offline_phone(tmp_path)
    assert phone.verify_qr(text).client_id == "hall"


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> tuple[PhoneApp, str]:
    return _offline_phone(tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=300, deadline=None)
@given(
    noise=st.one_of(st.text(max_size=500), st.binary(max_size=300).map(lambda b: b.hex())),
    cut=st.integers(min_value=0, max_value=200),
)
def test_any_text_verifies_or_is_qr_invalid(
    offline: tuple[PhoneApp, str], noise: str, cut: int
) -> None:
    """Any text given to the QR verifier either verifies or raises qr_invalid; nothing else."""
    phone, genuine = offline
    for text in (noise, genuine[:cut] + noise, genuine[: len(genuine) - cut] + noise[:3]):
        try:
            phone.verify_qr(text)
        except PhoneError as refused:
            assert refused.code == "qr_invalid"
