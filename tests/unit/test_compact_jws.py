"""`crypto.compact_jws` (the ID and logout tokens' signer): the header and payload segments are
joserfc's byte for byte, and joserfc verifies the result with the public key, for every
token algorithm."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import import_key

from authsvc.core import crypto
from authsvc.core.crypto import Algorithm

CLAIMS = {
    "iss": "https://auth.example",
    "sub": "pairwise-甲",
    "aud": "hall",
    "exp": 1_700_000_600,
    "iat": 1_700_000_000,
    "nonce": "n-1",
    "amr": ["hwk", "face"],
    "company": {"name": "某某公司"},
}
KEY_TYPES = {Algorithm.ED25519: "OKP", Algorithm.ES256: "EC", Algorithm.RS256: "RSA"}


@pytest.mark.parametrize("alg", list(Algorithm))
def test_segments_match_joserfc_and_joserfc_verifies(alg: Algorithm) -> None:
    """Same header and payload bytes as joserfc's jwt.encode; the signature verifies there."""
    key = crypto.generate(alg)
    header = {"typ": "logout+jwt", "alg": str(alg), "kid": "k-1"}
    ours = crypto.compact_jws(header, CLAIMS, key)
    theirs = jwt.encode(header, CLAIMS, import_key(key, KEY_TYPES[alg]), algorithms=[str(alg)])
    assert ours.split(".")[:2] == theirs.split(".")[:2]
    public = import_key(key.public_key(), KEY_TYPES[alg])
    token = jwt.decode(ours, public, algorithms=[str(alg)])
    assert token.claims == CLAIMS and token.header == header


def test_a_tampered_payload_does_not_verify() -> None:
    """Another payload under the same signature is refused."""
    key = crypto.generate(Algorithm.ES256)
    header, _, signature = crypto.compact_jws(
        {"typ": "JWT", "alg": "ES256", "kid": "k"}, CLAIMS, key
    ).split(".")
    other = crypto.compact_jws({"typ": "JWT", "alg": "ES256", "kid": "k"}, {"sub": "x"}, key)
    forged = ".".join([header, other.split(".")[1], signature])
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, import_key(key.public_key(), "EC"), algorithms=["ES256"])


def test_a_header_alg_other_than_the_keys_is_refused() -> None:
    """The header may not name an algorithm the key does not make."""
    with pytest.raises(ValueError, match="not the key's"):
        crypto.compact_jws({"alg": "RS256"}, CLAIMS, crypto.generate(Algorithm.ES256))
