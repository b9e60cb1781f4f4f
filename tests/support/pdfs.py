"""Reading the portal's PDFs back as a person or a phone would: the text (pypdf and poppler's
pdftotext agree), and the QR of the first page rendered by pdftoppm and decoded by zxing-cpp."""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import zxingcpp
from PIL import Image
from pypdf import PdfReader


def text_of(pdf: bytes) -> str:
    """The text of every page, by pypdf; poppler's pdftotext must find the same Chinese."""
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True, timeout=30
    ).stdout.decode()


def first_page_png(pdf: bytes, folder: Path | None = None, dpi: int = 200) -> Path:
    """Page 1 rendered by poppler's pdftoppm, as a printer or a screenshot would show it."""
    out = Path(folder or tempfile.mkdtemp()) / "page"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", "-png", "-", str(out)],
        input=pdf,
        check=True,
        timeout=30,
    )
    return out.with_suffix(".png")


def qr_of(png: Path) -> str:
    """The one QR on the page, decoded by zxing-cpp."""
    found = zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} QR codes on {png}"
    return found[0].text
