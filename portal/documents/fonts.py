"""The CJK font embedded in every PDF the hall prints.

reportlab embeds (and subsets) TrueType outlines only. Debian's fonts-noto-cjk ships Noto Sans/
Serif CJK as OpenType with PostScript (CFF) outlines, which reportlab refuses ("postscript
outlines are not supported"), so the PDFs embed WenQuanYi Zen Hei (文泉驿正黑) from Debian's
`fonts-wqy-zenhei` (TrueType outlines, GB 18030 coverage, GPL with the font-embedding exception):
/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc. `make system-deps` installs it; `PORTAL_CJK_FONT`
names another TrueType .ttf/.ttc. The font is subset: a receipt is a few dozen kilobytes.
"""

from __future__ import annotations

import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

DEFAULT_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT_NAME = "HallCJK"
_lock = threading.Lock()
_registered: dict[str, str] = {}


class FontMissing(RuntimeError):
    """No usable CJK TrueType font: the PDFs would show empty boxes instead of Chinese."""


def cjk_font(path: Path | None = None) -> str:
    """Register the font once per process and return its reportlab name."""
    font = path or DEFAULT_FONT
    key = str(font)
    with _lock:
        if key in _registered:
            return _registered[key]
        if not font.is_file():
            raise FontMissing(f"{font} not found: install Debian's fonts-wqy-zenhei")
        name = f"{FONT_NAME}{len(_registered)}"
        try:
            pdfmetrics.registerFont(TTFont(name, str(font), subfontIndex=0))
        except TTFError as exc:
            raise FontMissing(f"{font}: {exc}") from exc
        _registered[key] = name
        return name
