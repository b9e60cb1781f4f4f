"""CSRF defence for the phone page's JSON endpoints, and a Host allow-list against DNS rebinding.

A state-changing request must come from this page: its `Origin` is this server's own origin and
it carries a per-page token (`X-CSRF-Token`, HMAC-signed by a key made at start-up). The custom
header also forces a CORS preflight, which this server never grants."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from yarl import URL

from authsvc.core.crypto import b64u, b64u_decode

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
HEADER = "X-CSRF-Token"


class Guard:
    def __init__(self, allowed_hosts: frozenset[str] = LOOPBACK_HOSTS) -> None:
        self._key = secrets.token_bytes(32)
        self.allowed_hosts = allowed_hosts

    def new_token(self) -> str:
        """A fresh token for each page rendered: random nonce + HMAC over it."""
        nonce = secrets.token_bytes(16)
        return f"{b64u(nonce)}.{b64u(self._mac(nonce))}"

    def token_valid(self, token: str) -> bool:
        nonce_text, sep, mac_text = token.partition(".")
        if not sep or len(token) > 128:
            return False
        try:
            nonce, mac = b64u_decode(nonce_text), b64u_decode(mac_text)
        except ValueError:
            return False
        return len(nonce) == 16 and hmac.compare_digest(mac, self._mac(nonce))

    def _mac(self, nonce: bytes) -> bytes:
        return hmac.new(self._key, b"mobile-sim-csrf\x00" + nonce, hashlib.sha256).digest()

    def host_allowed(self, host: str) -> bool:
        try:
            name = URL(f"http://{host}").host
        except ValueError:
            return False
        return name is not None and name.strip("[]") in self.allowed_hosts

    def same_origin(self, origin: str, scheme: str, host: str) -> bool:
        return bool(origin) and hmac.compare_digest(origin, f"{scheme}://{host}")
