"""The people's faces, as the simulation has them: one Ed25519 private key per person in a
faces folder kept apart from any phone's home folder (the person, not the device: a phone
alone, stolen or copied, cannot pass the face check). The card registry holds the public half.

faces/<ID number>.pem   the person's face (0600)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from authsvc.core import face as face_rules
from authsvc.core.crypto import public_jwk

ENV = "MOBILE_SIM_FACES"


def default_folder() -> Path | None:
    value = os.environ.get(ENV, "")
    return Path(value) if value else None


def _path(folder: Path, id_number: str) -> Path:
    return folder / f"{id_number.upper()}.pem"


def load(folder: Path | None, id_number: str) -> ed25519.Ed25519PrivateKey | None:
    if folder is None or not id_number:
        return None
    path = _path(folder, id_number)
    if not path.exists():
        return None
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return key if isinstance(key, ed25519.Ed25519PrivateKey) else None


def create(folder: Path, id_number: str, *, derive_from: bytes = b"") -> dict[str, str]:
    """Make (once) a person's face; returns its public half for the registry. `derive_from`
    (tests only) makes the same face in every folder from a fixed seed."""
    existing = load(folder, id_number)
    if existing is not None:
        return public_jwk(existing.public_key())
    folder.mkdir(parents=True, exist_ok=True)
    if derive_from:
        secret = hashlib.sha256(derive_from + id_number.upper().encode()).digest()
        key = ed25519.Ed25519PrivateKey.from_private_bytes(secret)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(_path(folder, id_number), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return public_jwk(key.public_key())


def capture(face: ed25519.Ed25519PrivateKey | None, view: Mapping[str, Any]) -> str:
    """Answer a liveness challenge. Without the face (or choosing to fail) the capture is what
    a camera would see of someone else: a signature by a throwaway key, which cannot match."""
    return face_rules.capture(face or ed25519.Ed25519PrivateKey.generate(), view)
