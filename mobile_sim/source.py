"""What the camera sees: a SOURCE is a screenshot file (PNG/JPEG…), image bytes, or the QR text.

Images are decoded with zxing-cpp. Nothing here talks to the network."""

from __future__ import annotations

import io
from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

from mobile_sim import errors

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
MAX_TEXT_CHARS = 8192
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")
TEXT_PREFIXES = ("http://", "https://", "eyJ")
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def looks_like_image(data: bytes) -> bool:
    return data.startswith(IMAGE_MAGIC)


def decode_image(data: bytes) -> str:
    """The one QR code in an image, as text; refuses unreadable, huge or ambiguous images."""
    if len(data) > MAX_IMAGE_BYTES:
        raise errors.image_too_large(f"{len(data)} bytes")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise errors.image_too_large(f"{image.width}x{image.height}")
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise errors.image_unreadable(repr(exc)[:120]) from exc
    found = zxingcpp.read_barcodes(_flatten(image), formats=QR_ONLY)
    texts = list(dict.fromkeys(result.text for result in found if result.valid and result.text))
    if not texts:
        raise errors.qr_not_found()
    if len(texts) > 1:
        raise errors.qr_ambiguous(len(texts))
    return texts[0]


def _flatten(image: Image.Image) -> Image.Image:
    """Greyscale on white: a transparent PNG must not turn into black-on-black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return white.convert("L")
    return image.convert("L")


def read_source(source: str | Path) -> str:
    """A path to an image (or to a text file holding the QR text), or the QR text itself."""
    text = str(source).strip()
    if isinstance(source, str) and text.startswith(TEXT_PREFIXES):
        return text
    path = Path(source).expanduser()
    if path.is_file():
        return read_file(path)
    if isinstance(source, Path) or _looks_like_path(text):
        raise errors.file_not_found(str(source))
    return text


def read_file(path: Path) -> str:
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise errors.image_too_large(f"{path.stat().st_size} bytes")
    data = path.read_bytes()
    if looks_like_image(data):
        return decode_image(data)
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise errors.image_unreadable("neither an image nor UTF-8 text") from exc
    if not text or len(text) > MAX_TEXT_CHARS:
        raise errors.image_unreadable("empty or oversized text file")
    return text


def _looks_like_path(text: str) -> bool:
    suffix = Path(text).suffix.lower()
    return (
        "/" in text
        or "\\" in text
        or suffix in {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".txt"}
    )
