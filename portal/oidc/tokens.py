"""JWT checks for ID tokens, logout tokens and accounts requests. No I/O: keys are passed in.

OpenID Connect Core §3.1.3.7 (ID token validation), Back-Channel Logout §2.6 (logout token
validation), docs/api.md (accounts request: typ `accounts-request+jwt`).
"""

from __future__ import annotations

import hmac
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError, SecurityWarning
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

#: Asymmetric algorithms only: never `none`, never HS* with a public key.
ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "Ed25519", "EdDSA")
LEEWAY_SECONDS = 30
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class TokenInvalid(Exception):
    """The token failed a check; the message says which (private detail)."""


class UnknownKey(TokenInvalid):
    """The `kid` is not in the key set: the caller may refetch the JWKS once."""


@dataclass(frozen=True)
class Expect:
    issuer: str
    audience: str
    now: int
    typ: str | None = None  # required value of the `typ` header, when set
    typ_optional: bool = False  # accept an absent `typ` (logout tokens)
    algorithms: Collection[str] = ALGORITHMS


def header(token: str) -> dict[str, Any]:
    try:
        return dict(extract_compact(token.encode("ascii")).headers())
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenInvalid(f"malformed: {type(exc).__name__}") from None


def verify(token: str, keys: KeySet, expect: Expect) -> dict[str, Any]:
    """Signature (kid required, allowed alg), typ, iss, aud, exp, iat → the claims."""
    head = header(token)
    if not head.get("kid"):
        raise TokenInvalid("kid missing")
    if head.get("alg") not in expect.algorithms:
        raise TokenInvalid(f"alg {head.get('alg')!r} not allowed")
    _check_typ(head.get("typ"), expect)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # EdDSA is still what RFC 8037 names
            decoded = jwt.decode(token, keys, algorithms=list(expect.algorithms))
    except InvalidKeyIdError:
        raise UnknownKey(str(head.get("kid"))) from None
    except (JoseError, ValueError) as exc:
        raise TokenInvalid(f"signature: {type(exc).__name__}") from None
    claims = dict(decoded.claims)
    _check_claims(claims, expect)
    return claims


def _check_typ(typ: Any, expect: Expect) -> None:
    if expect.typ is None:
        return
    if typ is None and expect.typ_optional:
        return
    if not isinstance(typ, str) or typ.lower() not in (expect.typ, "application/" + expect.typ):
        raise TokenInvalid(f"typ {typ!r}")


def _check_claims(claims: dict[str, Any], expect: Expect) -> None:
    if claims.get("iss") != expect.issuer:
        raise TokenInvalid("iss")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if expect.audience not in audiences:
        raise TokenInvalid("aud")
    if len(audiences) > 1 and claims.get("azp") != expect.audience:
        raise TokenInvalid("azp")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp + LEEWAY_SECONDS < expect.now:
        raise TokenInvalid("exp")
    if not isinstance(iat, int | float) or iat - LEEWAY_SECONDS > expect.now:
        raise TokenInvalid("iat")


def check_id_token(claims: dict[str, Any], nonce: str) -> None:
    """OIDC Core §3.1.3.7 step 11: the nonce sent must come back."""
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got, nonce):
        raise TokenInvalid("nonce")
    if not isinstance(claims.get("sub"), str):
        raise TokenInvalid("sub")


def check_logout_token(claims: dict[str, Any]) -> str:
    """Back-Channel Logout §2.6: events member, no nonce, a sid → the sid to end."""
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise TokenInvalid("events")
    if "nonce" in claims:
        raise TokenInvalid("nonce present")
    sid = claims.get("sid")
    if not isinstance(sid, str) or not sid:
        raise TokenInvalid("sid")
    return sid


def replay_id(claims: dict[str, Any]) -> tuple[str, int]:
    """The `jti` and `exp` a single-use token must carry (Back-Channel Logout §2.4: jti is
    REQUIRED in a logout token; docs/api.md: accounts requests carry one too)."""
    jti, exp = claims.get("jti"), claims.get("exp")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise TokenInvalid("jti")
    if not isinstance(exp, int | float):
        raise TokenInvalid("exp")
    return jti, int(exp)


def check_accounts_request(claims: dict[str, Any]) -> tuple[str, str, str]:
    """docs/api.md: `name`, `id_number`, `identity` → those three, or TokenInvalid."""
    values = tuple(claims.get(k) for k in ("id_number", "name", "identity"))
    if not all(isinstance(v, str) and v for v in values):
        raise TokenInvalid("accounts request claims")
    return values  # type: ignore[return-value]
