"""Authentication context classes (OIDC Core §2 `acr`, §3.1.2.1 `acr_values`; RFC 8176 `amr`):
what a login really proved, and what a relying party asked for.

Two levels: the e-card on its bound device scanned the signed QR (`ecard-qr`), and in addition
the server's face check passed for the card holder (`ecard-qr-face`). The face-checked level is
the default; a relying party may ask for less with `acr_values`, never get more than happened."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ACR_ECARD = "urn:qrauth:acr:ecard-qr"
ACR_FACE = "urn:qrauth:acr:ecard-qr-face"
SUPPORTED = (ACR_FACE, ACR_ECARD)
# RFC 8176: "hwk" proof of a hardware-bound key (the device key), "face" biometric.
AMR_ECARD = ("qr", "ecard", "hwk")
AMR_FACE = (*AMR_ECARD, "face")


def requested(acr_values: str) -> tuple[str, ...]:
    """The supported values of `acr_values`, in the relying party's order of preference."""
    return tuple(v for v in acr_values.split() if v in SUPPORTED)


def face_required(request: Mapping[str, Any]) -> bool:
    """Face check required unless the relying party asked only for the e-card level."""
    values: Iterable[str] = request.get("acr_values") or ()
    return list(values) != [ACR_ECARD]


def achieved(face_passed: bool) -> tuple[str, list[str]]:
    """`acr` and `amr` as they happened."""
    return (ACR_FACE, list(AMR_FACE)) if face_passed else (ACR_ECARD, list(AMR_ECARD))
