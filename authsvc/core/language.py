"""Accept-Language negotiation (RFC 9110 §12.5.4) through Babel, shared by authsvc and mobile_sim
(the portal, which may not import authsvc, has the same helper in portal/http/i18n.py).

Language ranges are ordered by their quality value (stable for equal ones), `q=0` and `*` are
dropped, and Babel's `negotiate_locale` matches them against what we offer: `zh-Hans-CN` and
`zh-TW` are zh, `en-GB` is en. Chinese is the default, as for every page of the service hall."""

from __future__ import annotations

from collections.abc import Sequence

from babel import negotiate_locale

OFFERED = ("zh", "en")
DEFAULT = "zh"


def preferred(header: str) -> list[str]:
    """The header's language tags, best first; malformed quality values count as q=0."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag, quality = tag.strip(), 1.0
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(header: str, offered: Sequence[str] = OFFERED, default: str = DEFAULT) -> str:
    """The offered language the header prefers most, or `default`."""
    chosen = negotiate_locale(preferred(header)[:16], list(offered), sep="-")
    return chosen.split("-")[0].lower() if chosen else default


def explicit(value: str, offered: Sequence[str] = OFFERED) -> str | None:
    """A language chosen by name (`?lang=en`, `ui_locales=en-US zh`): the first offered one."""
    chosen = negotiate_locale(value.replace(",", " ").split()[:16], list(offered), sep="-")
    return chosen.split("-")[0].lower() if chosen else None
