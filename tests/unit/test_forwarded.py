"""The browser address behind trusted proxies: the rightmost X-Forwarded-For entry not trusted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authsvc.core.forwarded import browser_ip, parse_networks

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8, ::1")


@pytest.mark.parametrize(
    ("remote", "headers", "expected"),
    [
        ("203.0.113.5", ["6.6.6.6"], "203.0.113.5"),  # not from a proxy: the header is ignored
        ("127.0.0.1", [], "127.0.0.1"),  # a proxy that sent no header
        ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # the client's own entry
        ("127.0.0.1", ["6.6.6.6", "203.0.113.9, 10.1.2.3"], "203.0.113.9"),  # two proxies
        ("127.0.0.1", ["10.1.2.3, 10.9.9.9"], "10.1.2.3"),  # all trusted: the farthest hop
        ("127.0.0.1", ["not-an-ip, 10.1.2.3"], "10.1.2.3"),  # garbage stops the walk
        ("127.0.0.1", ["203.0.113.9:4711"], "203.0.113.9"),
        ("::1", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("127.0.0.1", ["::ffff:10.0.0.1, 2001:db8::8"], "2001:db8::8"),
    ],
)
def test_rightmost_untrusted_address(remote: str, headers: list[str], expected: str) -> None:
    """Only entries added by trusted proxies are skipped; the first other one is the browser."""
    assert browser_ip(remote, headers, PROXIES) == expected


def test_bad_network_is_refused() -> None:
    """A setting that is not a network fails at start-up, not at the first request."""
    with pytest.raises(ValueError):
        parse_networks("127.0.0.1, example.org")


@given(st.lists(st.text(max_size=40), max_size=5))
def test_client_chosen_prefix_never_wins(forged: list[str]) -> None:
    """Whatever the client prepends, the address our proxy saw is the answer."""
    header = ", ".join([*forged, "198.51.100.20"])
    assert browser_ip("127.0.0.1", [header], PROXIES) == "198.51.100.20"
