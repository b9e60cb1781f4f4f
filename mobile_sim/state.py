"""The phone's home folder: device key, e-card, pinned broker keys and settings."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from authsvc.core.crypto import Algorithm, PrivateKey, generate

KEY_FILE = "device-key.pem"
STATE_FILE = "state.json"


@dataclass
class PhoneState:
    home: Path
    device_key: PrivateKey
    broker_url: str = ""
    issuer: str = ""
    pinned_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    ecard: str = ""
    card_no: str = ""
    place: str = ""

    @classmethod
    def open(cls, home: Path, *, broker_url: str = "", place: str | None = None,
             algorithm: Algorithm = Algorithm.ES256) -> PhoneState:
        home.mkdir(parents=True, exist_ok=True)
        key_path = home / KEY_FILE
        if key_path.exists():
            key: PrivateKey = serialization.load_pem_private_key(key_path.read_bytes(), password=None)  # type: ignore[assignment]
        else:
            key = generate(algorithm)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
        saved = json.loads((home / STATE_FILE).read_text()) if (home / STATE_FILE).exists() else {}
        state = cls(home=home, device_key=key, **{k: v for k, v in saved.items() if k != "home"})
        if broker_url:
            state.broker_url = broker_url.rstrip("/")
        if place is not None:
            state.place = place
        state.save()
        return state

    def save(self) -> None:
        body = {"broker_url": self.broker_url, "issuer": self.issuer, "pinned_keys": self.pinned_keys,
                "ecard": self.ecard, "card_no": self.card_no, "place": self.place}
        tmp = self.home / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(body, ensure_ascii=False, indent=2))
        tmp.replace(self.home / STATE_FILE)

    def pin(self, issuer: str, keys: list[dict[str, Any]]) -> None:
        """Pin at first use; later refreshes come only from the configured broker URL and
        only for the same issuer."""
        if self.issuer and issuer != self.issuer:
            raise ValueError(f"broker answered as {issuer}, pinned {self.issuer}")
        self.issuer = issuer
        self.pinned_keys.update({k["kid"]: k for k in keys})
        self.save()

    def save_card(self, ecard: str, card_no: str) -> None:
        self.ecard, self.card_no = ecard, card_no
        self.save()
