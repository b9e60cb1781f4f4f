"""Free text typed into the hall's forms (单位地址) and names of uploaded files.

Markup is harmless here (every page autoescapes), but characters that are not printable —
controls, bidirectional overrides (U+202E), zero-width characters (U+200B) — let a value show
something else than it holds (issue 12, XSS and spoofing payloads): typed text with them is
refused with the field's error; an uploaded file's name has them removed.
"""

from __future__ import annotations

from portal.errors import InvalidText


def clean_text(value: str, *, max_len: int) -> str:
    """Whitespace collapsed; refused (InvalidText) when too long or not printable."""
    text = " ".join(value.split())
    if len(text) > max_len or not text.isprintable():
        raise InvalidText(f"{len(text)} characters")
    return text


def printable_only(value: str, *, max_len: int) -> str:
    """`value` without its unprintable characters, whitespace collapsed, cut to `max_len`."""
    return " ".join("".join(c for c in value if c.isprintable()).split())[:max_len]
