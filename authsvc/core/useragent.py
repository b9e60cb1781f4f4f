"""What the phone shows about the browser: browser and OS from the user agent, a rough place
from the IP. A real deployment plugs in an IP-geolocation database; the demo knows only local
and private networks."""

from __future__ import annotations

import ipaddress
import re

_BROWSERS = (
    ("Edge", re.compile(r"Edg/(\d+)")),
    ("Chrome", re.compile(r"Chrome/(\d+)")),
    ("Firefox", re.compile(r"Firefox/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+).*Safari")),
)
_SYSTEMS = (
    ("Windows", re.compile(r"Windows NT")),
    ("macOS", re.compile(r"Mac OS X")),
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad")),
    ("Linux", re.compile(r"Linux")),
)


def browser_and_os(user_agent: str) -> tuple[str, str]:
    browser = next(
        (f"{name} {m.group(1)}" for name, rx in _BROWSERS if (m := rx.search(user_agent))),
        "未知浏览器",
    )
    system = next((name for name, rx in _SYSTEMS if rx.search(user_agent)), "未知系统")
    return browser, system


def rough_place(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "未知地点"
    if address.is_loopback:
        return "本机"
    if address.is_private:
        return "内部网络"
    return "未知地点"
