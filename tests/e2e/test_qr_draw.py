"""The QR the login page draws itself (authsvc/http/static/qr_draw.js), run in Chromium on the
real page: for byte-mode text it is zxing-cpp's symbol module for module, over every version;
its mask has the lowest penalty as authsvc/qrmask.py counts it; its image decodes to the text.
"""

from __future__ import annotations

import base64
import io
import random
import string
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, Page

from authsvc import qrimage, qrmask
from authsvc.services.login import verify_qr
from tests.e2e.test_qr_page import authorize_url, web_client
from tests.support.qrtexts import ticket_texts
from tests.support.servers import Broker, running_authsvc

REDIRECT = "http://127.0.0.1:9/cb"
# Lower-case letters only: zxing-cpp encodes them in byte mode alone, as qr_draw.js does (text
# with digits zxing-cpp may split into numeric segments, a different but equally valid symbol).
LETTERS = string.ascii_lowercase


@pytest.fixture
async def served(tmp_path: Path, chromium: Browser) -> AsyncIterator[tuple[Page, Broker]]:
    """authsvc's QR page in Chromium, its QR drawn: the script is loaded as in production."""
    async with running_authsvc(tmp_path, extra_clients=[web_client(REDIRECT)]) as broker:
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(authorize_url(broker, REDIRECT))
        await page.locator("#qr-image").wait_for(state="visible")
        yield page, broker


@pytest.fixture
def qr_page(served: tuple[Page, Broker]) -> Page:
    return served[0]


async def drawn(page: Page, texts: list[str], mask: int | None = None) -> list[dict[str, Any]]:
    """QrDraw.encode in the page: size, mask and the modules as a '1' = dark string."""
    return list(
        await page.evaluate(
            """([texts, mask]) => texts.map((text) => {
                const s = QrDraw.encode(text, mask === null ? undefined : mask);
                return { size: s.size, mask: s.mask, modules: Array.from(s.dark).join("") };
            })""",
            [texts, mask],
        )
    )


def zxing_modules(text: str) -> tuple[int, str]:
    matrix = qrimage.encode(text)
    return matrix.size, "".join("1" if p == 0 else "0" for p in matrix.pixels)


def as_int(modules: str) -> int:
    return int(modules, 2)


async def test_symbol_is_zxing_cpps_for_every_version(qr_page: Page) -> None:
    """Versions 1–40, each at the longest text it holds and one byte more (the next version's
    shortest): every module, the mask choice, format and version information included."""
    rng = random.Random(18004)
    lengths = sorted({*range(1, 2332, 11), 2331})
    texts = ["".join(rng.choice(LETTERS) for _ in range(n)) for n in lengths]
    symbols = await drawn(qr_page, texts)
    versions = set()
    for text, symbol in zip(texts, symbols, strict=True):
        assert (symbol["size"], symbol["modules"]) == zxing_modules(text), len(text)
        versions.add((symbol["size"] - 17) // 4)
    assert versions == set(range(1, 41))


async def test_ticket_texts_pick_the_lowest_penalty_and_decode(qr_page: Page) -> None:
    """Signed ticket texts (digits and all): of the 8 masks the page draws, the one it picks
    scores least by qrmask's count, and the PNG it shows reads back as the text."""
    texts = ticket_texts(8)
    chosen = await drawn(qr_page, texts)
    per_mask = [await drawn(qr_page, texts, mask) for mask in range(8)]
    for i, text in enumerate(texts):
        size = chosen[i]["size"]
        assert size <= 61, "a ticket's QR stays at version ≤ 11 in byte mode"
        scores = [qrmask.penalty(as_int(per_mask[k][i]["modules"]), size) for k in range(8)]
        assert chosen[i]["modules"] == per_mask[chosen[i]["mask"]][i]["modules"]
        assert scores[chosen[i]["mask"]] == min(scores)
        assert scores.index(min(scores)) == chosen[i]["mask"], "ties go to the lowest mask"
        url = await qr_page.evaluate(
            "(text) => QrDraw.dataUrl(QrDraw.encode(text), document)", text
        )
        assert url.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.size == (size + 2 * qrimage.QUIET_ZONE,) * 2
        decoded = zxingcpp.read_barcode(image.resize((image.width * 4,) * 2, Image.NEAREST))
        assert decoded is not None and decoded.text == text and decoded.ec_level == "M"


async def test_page_shows_its_own_tickets_qr(served: tuple[Page, Broker]) -> None:
    """The image on the page is the QR of the ticket the page holds: it decodes to a text the
    broker signed, naming that ticket."""
    page, broker = served
    src = await page.locator("#qr-image").get_attribute("src") or ""
    assert src.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    decoded = zxingcpp.read_barcode(image.resize((image.width * 4,) * 2, Image.NEAREST))
    assert decoded is not None
    claims = verify_qr(broker.broker, decoded.text)
    assert claims.ticket_id == await page.locator("#qr-image").get_attribute("data-ticket")


async def test_text_too_long_is_refused(qr_page: Page) -> None:
    """More than version 40 holds at level M is an error, not a broken symbol."""
    error = await qr_page.evaluate(
        """() => { try { QrDraw.encode("a".repeat(2332)); return ""; }
                   catch (e) { return e.name + ": " + e.message; } }"""
    )
    assert error == "RangeError: text too long for a QR code"
