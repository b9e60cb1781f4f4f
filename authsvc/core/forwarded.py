"""The browser's address behind reverse proxies (RFC 7239 §7.4, X-Forwarded-For in practice).

Each proxy appends the address it received the request from, so only the entries added by
proxies we run can be believed: walk the list from the right, skipping our own proxies; the
first address that is not one of them is the browser. Anything to its left was written by the
client and is ignored. A request that did not come from a trusted proxy keeps its socket
address, whatever headers it sent."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1, ::1` → networks; raises ValueError on a bad entry."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def browser_ip(remote: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The rightmost address not in `trusted`, walking back from the socket's peer.

    `forwarded_for` is every X-Forwarded-For header value, in order. An entry that is not an
    address stops the walk: the last trusted hop is all we know then."""
    peer = _address(remote)
    if peer is None or not _trusted(peer, trusted):
        return remote
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    last = str(peer)
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return last
        if not _trusted(address, trusted):
            return str(address)
        last = str(address)
    return last
