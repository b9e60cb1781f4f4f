"""Certificate QRs (单位权益单 / 参保证明): verified offline against the portal's pinned keys.

The QR holds a JWS compact token (RFC 7515) with header `typ: "cert+jwt"`, signed by a key the
portal publishes in its certificate JWKS. The contract the portal must follow is in
mobile_sim/README.md ("Certificate QR contract"). No I/O here: the keys are passed in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from authsvc.core.crypto import b64u_decode
from mobile_sim import errors

TYP = "cert+jwt"
TYP_FULL = "application/cert+jwt"
ALGORITHMS = ("ES256", "Ed25519")  # "EdDSA" is deprecated by RFC 9864 and refused
CLOCK_LEEWAY = 60
MAX_TOKEN_CHARS = 4096
MAX_FACTS = 30
# Six calendar months are at most 184 days; a token claiming longer is not one the contract
# allows (seed 002 单位权益单: 有效期内(6个月)), whoever signed it.
MAX_VALIDITY = 184 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Fact:
    label_zh: str
    label_en: str
    value: str


@dataclass(frozen=True, slots=True)
class Certificate:
    """What a verified certificate QR certifies."""

    issuer: str
    serial: str
    kind: str
    title_zh: str
    title_en: str
    holder_name: str
    holder_id: str
    facts: tuple[Fact, ...]
    issued_at: int
    expires_at: int
    kid: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UnknownKey(Exception):
    """The token names a key id that is not pinned (the portal may have rotated its key)."""


def token_of(text: str) -> str:
    """The bare token, or the part after `#` of a verification URL (`https://portal/v#TOKEN`)."""
    token = text.strip().rpartition("#")[2]
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise errors.certificate_invalid("not a JWS compact token")
    return token


def looks_like_certificate(text: str) -> bool:
    """Whether a scanned text is meant as a certificate QR (a `cert+jwt` token), so that the
    phone's 扫一扫 verifies it instead of treating it as a login QR. Says nothing of validity."""
    try:
        header_of(token_of(text))
    except errors.PhoneError:
        return False
    return True


def header_of(token: str) -> dict[str, Any]:
    """The protected header, unverified: only to choose the key. Checks typ, alg and kid."""
    try:
        header = json.loads(b64u_decode(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.certificate_invalid("header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise errors.certificate_invalid("header is not an object")
    if str(header.get("typ", "")).lower() not in (TYP, TYP_FULL):
        raise errors.certificate_invalid(f"typ {header.get('typ')!r}")
    if header.get("alg") not in ALGORITHMS:
        raise errors.certificate_invalid(f"alg {header.get('alg')!r}")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise errors.certificate_invalid("no kid")
    return header


def issuer_of(jwks_url: str, document: Mapping[str, Any]) -> str:
    """The JWKS document's `issuer` member if it has one, else the origin of its URL."""
    named = document.get("issuer")
    if isinstance(named, str) and named:
        return named.rstrip("/")
    parts = urlsplit(jwks_url)
    return f"{parts.scheme}://{parts.netloc}"


def verify_token(
    token: str, keys: Mapping[str, Mapping[str, Any]], *, issuer: str, now: float
) -> Certificate:
    """Verify signature, type, issuer and validity; raises PhoneError or UnknownKey."""
    header = header_of(token)
    jwk = keys.get(header["kid"])
    if jwk is None:
        raise UnknownKey(header["kid"])
    if jwk.get("alg", header["alg"]) != header["alg"] or jwk.get("use", "sig") != "sig":
        raise errors.certificate_invalid("key not meant for this algorithm")
    try:
        decoded = jwt.decode(token, import_key(dict(jwk)), algorithms=[header["alg"]])
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise errors.certificate_invalid(f"signature: {exc!r}"[:120]) from exc
    claims = decoded.claims
    _check_times(claims, now)
    if claims.get("iss") != issuer:
        raise errors.certificate_invalid(f"iss {str(claims.get('iss'))[:80]!r}")
    return _certificate(claims, header["kid"])


def _int_claim(claims: Mapping[str, Any], name: str, default: Any = None) -> int:
    value = claims.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.certificate_invalid(f"{name} must be an integer")
    return value


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    exp, iat = _int_claim(claims, "exp"), _int_claim(claims, "iat")
    if now >= exp:
        raise errors.certificate_expired(f"exp {exp}")
    if exp - iat > MAX_VALIDITY:
        raise errors.certificate_invalid(f"valid {exp - iat} s, more than six months")
    if _int_claim(claims, "nbf", iat) > now + CLOCK_LEEWAY or iat > now + CLOCK_LEEWAY:
        raise errors.certificate_invalid("not valid yet")


def _text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _certificate(claims: Mapping[str, Any], kid: str) -> Certificate:
    cert = claims.get("cert")
    if not isinstance(cert, dict) or not isinstance(cert.get("title"), dict):
        raise errors.certificate_invalid("no cert object")
    holder = cert["holder"] if isinstance(cert.get("holder"), dict) else {}
    title = cert["title"]
    if not _text(title.get("zh")) or not _text(claims.get("jti"), 64):
        raise errors.certificate_invalid("no title or serial number")
    return Certificate(
        issuer=str(claims["iss"]),
        serial=_text(claims["jti"], 64),
        kind=_text(cert.get("type"), 64),
        title_zh=_text(title["zh"]),
        title_en=_text(title.get("en")) or _text(title["zh"]),
        holder_name=_text(holder.get("name")),
        holder_id=_text(holder.get("id"), 64),
        facts=_facts(cert.get("facts")),
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
        kid=kid,
    )


def _facts(raw: Any) -> tuple[Fact, ...]:
    if not isinstance(raw, list):
        return ()
    facts = []
    for item in raw[:MAX_FACTS]:
        if not isinstance(item, dict) or not isinstance(item.get("label"), dict):
            continue
        label = item["label"]
        zh = _text(label.get("zh"), 60)
        facts.append(Fact(zh, _text(label.get("en"), 60) or zh, _text(item.get("value"), 500)))
    return tuple(facts)
