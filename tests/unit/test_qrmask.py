"""qrimage.encode's own mask choice (authsvc/qrmask.py) against zxing-cpp's, module for module."""

from __future__ import annotations

import io
import random
import string

import pytest
import zxingcpp
from PIL import Image

from authsvc import qrimage, qrmask
from tests.support.qrtexts import ISSUERS, ticket_texts

URL_CHARS = string.ascii_letters + string.digits + "-_"


def zxing_image(text: str, mask: int | None = None) -> bytes:
    return qrimage._zxing(text, mask)[1]


def random_texts(count: int, seed: int) -> list[str]:
    """URL-like texts of 10–420 characters (versions 2–16), some all upper case (alphanumeric
    mode) so zxing-cpp's other encodation is covered too."""
    rng = random.Random(seed)
    texts = []
    for i in range(count):
        tail = "".join(rng.choice(URL_CHARS) for _ in range(rng.randint(10, 400)))
        text = f"{ISSUERS[i % 2]}/q/{tail}"
        texts.append(text.upper() if i % 5 == 0 else text)
    return texts


def test_encode_is_zxing_auto_mask_image() -> None:
    """encode's symbol is byte-identical to zxing-cpp's own choice, over ticket texts and others."""
    texts = ticket_texts(120) + random_texts(300, seed=18004)
    versions = set()
    for text in texts:
        matrix = qrimage.encode(text)
        assert matrix.pixels == zxing_image(text), text
        versions.add(matrix.version)
    assert len(versions) >= 10, versions


def test_chosen_mask_has_the_lowest_penalty_and_decodes() -> None:
    """The symbol encode returns scores the minimum of the 8 masks and reads back as its text."""
    for text in ticket_texts(4) + random_texts(4, seed=7):
        matrix = qrimage.encode(text)
        scores = [
            qrmask.penalty(qrmask.to_int(zxing_image(text, k)), matrix.size) for k in range(8)
        ]
        chosen = qrmask.penalty(qrmask.to_int(matrix.pixels), matrix.size)
        assert chosen == min(scores)
        decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(qrimage.png(matrix, scale=4))))
        assert decoded is not None and decoded.text == text


@pytest.mark.parametrize("length", [20, 90, 160, 250, 380])
def test_derived_candidates_are_zxing_images_per_mask(length: int) -> None:
    """Mask 0's symbol XOR the flips learnt from another text is zxing-cpp's symbol for mask k."""
    rng = random.Random(length)
    learn, *others = ("".join(rng.choice(URL_CHARS) for _ in range(length)) for _ in range(4))
    qrimage._FLIPS.clear()
    size = qrimage.encode(learn).size
    for text in others:
        first_size, first = qrimage._zxing(text, 0)
        assert first_size == size
        for k, flip in enumerate(qrimage._FLIPS[size]):
            derived = qrmask.to_pixels(qrmask.to_int(first) ^ flip, size)
            assert derived == zxing_image(text, k), k


def test_data_mask_option_is_honoured() -> None:
    """zxing-cpp takes `data_mask` (it ignores unknown options): the 8 masks give 8 symbols."""
    assert len({zxing_image("https://auth.example/q/abc", k) for k in range(8)}) == 8


def test_pixels_round_trip() -> None:
    """to_int and to_pixels are inverses on zxing-cpp's 0/255 bytes."""
    size, pixels = qrimage._zxing("round trip", 3)
    assert qrmask.to_pixels(qrmask.to_int(pixels), size) == pixels
