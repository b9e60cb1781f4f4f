"""Signed certificate tokens for the printed QR (mobile_sim/README.md, "Certificate QR contract").

A JWS compact token (RFC 7515) with header `typ: cert+jwt` and claims `iss`, `jti` (the number
printed on the paper), `iat`, `exp` and `cert` (type, title, holder, facts). Validity is
six calendar months from issue (seed 002 单位权益单: "本权益单记录单出具后有效期内(6个月)…
扫描右上方二维码进行验证(可多次验证)"). No I/O here: the key and the time are passed in.
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from portal.clock import epoch
from portal.documents.errors import CertificateExpired, CertificateInvalid

TYP = "cert+jwt"
VALIDITY_MONTHS = 6
MAX_FACTS = 30  # the phone shows at most 30
VERIFY_PATH = "/cert/verify"


@dataclass(frozen=True, slots=True)
class Fact:
    zh: str
    en: str
    value: str


@dataclass(frozen=True, slots=True)
class CertificateContent:
    """What a printed document certifies, as the phone will show it."""

    kind: str  # stable machine name, e.g. "unit_insurance_certificate"
    title_zh: str
    title_en: str
    holder_name: str
    holder_id: str
    facts: tuple[Fact, ...]


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` later, clamped to the month's last day (8-31 → 2-28)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expires_at(issued: dt.datetime) -> dt.datetime:
    return add_months(issued, VALIDITY_MONTHS)


def new_serial(prefix: str, now: dt.datetime) -> str:
    """A certificate number printed on the paper: prefix, Beijing date, 8 random digits."""
    beijing = now + dt.timedelta(hours=8)
    return f"{prefix}{beijing:%Y%m%d}{secrets.randbelow(10**8):08d}"


def claims(
    content: CertificateContent, *, issuer: str, serial: str, issued: dt.datetime
) -> dict[str, Any]:
    """The JWT claims set; `issued` is naive UTC (portal.clock)."""
    iat = epoch(issued)
    return {
        "iss": issuer,
        "jti": serial,
        "iat": iat,
        "exp": epoch(expires_at(issued)),
        "cert": {
            "type": content.kind,
            "title": {"zh": content.title_zh, "en": content.title_en},
            "holder": {"name": content.holder_name, "id": content.holder_id},
            "facts": [
                {"label": {"zh": f.zh, "en": f.en}, "value": f.value}
                for f in content.facts[:MAX_FACTS]
            ],
        },
    }


def sign(claims_set: dict[str, Any], *, kid: str, alg: str, key: Any) -> str:
    """The compact JWS; `key` is a joserfc private key."""
    header = {"alg": alg, "kid": kid, "typ": TYP}
    return jwt.encode(header, claims_set, key, algorithms=[alg])


def qr_text(public_url: str, token: str) -> str:
    """The QR holds the portal's verification URL with the token after `#` (the fragment never
    reaches a server log), so an ordinary scanner opens the portal's page and the phone app
    verifies the token offline."""
    return f"{public_url.rstrip('/')}{VERIFY_PATH}#{token}"


def verify(token: str, keys: dict[str, Any], *, issuer: str, now: dt.datetime) -> dict[str, Any]:
    """The portal's own check of a token it issued (its verification page): the claims, or
    CertificateInvalid / CertificateExpired. `keys` is the published JWKS (kid → JWK)."""
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError, TypeError) as exc:
        raise CertificateInvalid("not a compact JWS") from exc
    jwk = keys.get(str(header.get("kid")))
    if header.get("typ") != TYP or jwk is None or header.get("alg") != jwk.get("alg"):
        raise CertificateInvalid(f"header {header!r}"[:120])
    try:
        decoded = jwt.decode(token, import_key(jwk), algorithms=[jwk["alg"]])
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise CertificateInvalid(repr(exc)[:120]) from exc
    claims = decoded.claims
    if claims.get("iss") != issuer or not isinstance(claims.get("cert"), dict):
        raise CertificateInvalid("issuer or content")
    if not isinstance(claims.get("exp"), int) or epoch(now) >= claims["exp"]:
        raise CertificateExpired(str(claims.get("exp")))
    return claims
