"""RFC 7638 thumbprints, made directly: the RFC 8037 example, joserfc's answer for fresh keys,
and keys we do not use refused."""

from __future__ import annotations

import pytest
from joserfc.jwk import import_key

from authsvc.core.crypto import Algorithm, generate, public_jwk, thumbprint


def test_rfc_8037_example() -> None:
    """RFC 8037 Appendix A.3: the Ed25519 key of A.2 and its thumbprint."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.parametrize("alg", [Algorithm.ED25519, Algorithm.ES256])
def test_the_same_as_joserfcs(alg: Algorithm) -> None:
    for _ in range(20):
        jwk = public_jwk(generate(alg).public_key())
        assert thumbprint({**jwk, "kid": "ignored", "use": "sig"}) == import_key(jwk).thumbprint()


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},  # not a point on the curve
        {"kty": "OKP", "crv": "Ed25519"},
    ],
)
def test_keys_we_do_not_use_are_refused(jwk: dict[str, str]) -> None:
    with pytest.raises((ValueError, KeyError)):
        thumbprint(jwk)
