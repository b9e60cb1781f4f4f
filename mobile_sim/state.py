"""The phone's home folder: device key, e-card, pinned broker keys and settings.

device-key.pem   the device's private key (0600), made on first use
state.json       broker URL, pinned issuer and QR keys, the e-card, the phone's place,
                 the certificate JWKS URL and its pinned keys (0600)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from authsvc.core.crypto import Algorithm, PrivateKey, generate
from mobile_sim import errors

KEY_FILE = "device-key.pem"
STATE_FILE = "state.json"
DEFAULT_CERTIFICATE_JWKS_URL = "http://127.0.0.1:8701/.well-known/cert-jwks.json"


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _load_or_make_key(path: Path, algorithm: Algorithm) -> PrivateKey:
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return loaded  # type: ignore[return-value]
    key = generate(algorithm)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


@dataclass
class PhoneState:
    home: Path
    device_key: PrivateKey
    broker_url: str = ""
    issuer: str = ""
    pinned_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    ecard: str = ""
    card_no: str = ""
    holder: str = ""  # the card holder's ID number (whose face the face check asks for)
    place: str = ""
    certificate_jwks_url: str = DEFAULT_CERTIFICATE_JWKS_URL
    certificate_issuer: str = ""
    certificate_keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        home: Path,
        *,
        broker_url: str = "",
        place: str | None = None,
        algorithm: Algorithm = Algorithm.ES256,
        certificate_jwks_url: str | None = None,
    ) -> PhoneState:
        home.mkdir(parents=True, exist_ok=True)
        key = _load_or_make_key(home / KEY_FILE, algorithm)
        saved = json.loads((home / STATE_FILE).read_text()) if (home / STATE_FILE).exists() else {}
        known = {f.name for f in fields(cls)} - {"home", "device_key"}
        state = cls(home=home, device_key=key, **{k: v for k, v in saved.items() if k in known})
        if broker_url:
            state.use_broker(broker_url)
        if place is not None:
            state.place = place.strip()
        if certificate_jwks_url:
            state.use_certificate_jwks(certificate_jwks_url)
        state.save()
        return state

    def use_broker(self, url: str) -> None:
        """Pins belong to the configured URL: a different broker is pinned afresh at first use."""
        url = url.rstrip("/")
        if url != self.broker_url:
            self.broker_url, self.issuer, self.pinned_keys = url, "", {}

    def use_certificate_jwks(self, url: str) -> None:
        if url != self.certificate_jwks_url:
            self.certificate_jwks_url, self.certificate_issuer, self.certificate_keys = url, "", {}

    def save(self) -> None:
        body = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("home", "device_key")
        }
        _write_private(
            self.home / STATE_FILE, json.dumps(body, ensure_ascii=False, indent=2).encode()
        )

    def pin(self, issuer: str, keys: list[dict[str, Any]]) -> None:
        """Pin at first use; later refreshes come only from the configured broker URL, only for
        the same issuer, and replace the key set (a key the broker dropped stops verifying)."""
        if self.issuer and issuer != self.issuer:
            raise errors.broker_changed(self.issuer, issuer)
        self.issuer = issuer
        self.pinned_keys = {str(k["kid"]): k for k in keys if isinstance(k, dict) and k.get("kid")}
        self.save()

    def pin_certificate_keys(self, issuer: str, keys: list[dict[str, Any]]) -> None:
        self.certificate_issuer = issuer
        self.certificate_keys = {
            str(k["kid"]): k for k in keys if isinstance(k, dict) and k.get("kid")
        }
        self.save()

    def save_card(self, ecard: str, card_no: str, holder: str = "") -> None:
        self.ecard, self.card_no = ecard, card_no
        self.holder = holder or self.holder
        self.save()
