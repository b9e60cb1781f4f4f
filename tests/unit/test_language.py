"""Accept-Language negotiation: one rule (Babel's negotiate_locale over q-ordered tags), the same
in authsvc (also used by mobile_sim) and in the portal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authsvc.core import language
from portal.http import i18n

HEADERS = [
    ("", "zh"),
    ("en-US,en;q=0.9", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ("en;q=0.1, zh;q=0.9", "zh"),  # quality, not position, decides
    ("fr-FR, en;q=0.5, zh;q=0.4", "en"),  # the best offered one
    ("fr, de", "zh"),  # nothing offered: Chinese
    ("*", "zh"),
    ("en;q=0", "zh"),  # q=0 means "not this one"
    ("en;q=abc, zh;q=0.1", "zh"),  # a malformed quality is q=0
    ("zh-Hans-CN", "zh"),
    ("zh-TW", "zh"),
    ("EN-gb", "en"),
]


@pytest.mark.parametrize(("header", "lang"), HEADERS)
def test_accept_language(header: str, lang: str) -> None:
    """authsvc/mobile_sim and the portal answer the same language for the same header."""
    assert language.negotiate(header) == i18n._from_accept_language(header) == lang


@pytest.mark.parametrize(
    ("value", "lang"), [("en", "en"), ("en-US", "en"), ("zh", "zh"), ("fr", None), ("", None)]
)
def test_explicit_choice(value: str, lang: str | None) -> None:
    """?lang= / ui_locales= pick an offered language or nothing (then the header decides)."""
    assert language.explicit(value) == lang


@given(st.text(max_size=200))
def test_any_header_gives_an_offered_language(header: str) -> None:
    """Whatever a client sends, the answer is zh or en, never an exception."""
    assert language.negotiate(header) in language.OFFERED
    assert i18n._from_accept_language(header) in language.OFFERED
