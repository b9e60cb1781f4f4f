"""Codes and authorization requests expire in the core, on the clock they are given
(core/oidc/token.py, core/oidc/authorize.py): no store TTL and no sleeping decides it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from authsvc import errors
from authsvc.core.oidc.authorize import AuthorizationRequest, pending, require_live
from authsvc.core.oidc.grant import Grant
from authsvc.core.oidc.token import check_grant, s256
from authsvc.core.tickets import Identity

NOW = 1_700_000_000.0
VERIFIER = "v" * 43
REQUEST = AuthorizationRequest(
    client_id="hall",
    redirect_uri="https://hall.example/cb",
    scope=("openid",),
    state="s",
    nonce="n",
    code_challenge=s256(VERIFIER),
    identity=Identity.PERSONAL,
    display="page",
)
GRANT = Grant(
    ticket="t",
    client_id="hall",
    request=REQUEST.as_dict(),
    subject={},
    account={},
    auth_time=int(NOW),
    acr="a",
    amr=("hwk",),
    sid="sid",
    expires_at=NOW + 60,
)


def check(now: float, **over: str) -> None:
    args = {"client_id": "hall", "redirect_uri": REQUEST.redirect_uri, "verifier": VERIFIER}
    check_grant(GRANT, **{**args, **over}, now=now)


@pytest.mark.parametrize("now", [NOW, NOW + 59.999])
def test_a_grant_is_good_until_its_expiry(now: float) -> None:
    """Before `expires_at` a matching grant passes."""
    check(now)


@pytest.mark.parametrize("now", [NOW + 60, NOW + 3600])
def test_a_grant_at_or_past_its_expiry_is_invalid_grant(now: float) -> None:
    """At `expires_at` and after, the grant is refused invalid_grant — before anything else
    about it is looked at."""
    with pytest.raises(errors.InvalidGrant) as refused:
        check(now, client_id="another")
    assert refused.value.code == "invalid_grant"


@pytest.mark.parametrize(
    "over", [{"client_id": "spa"}, {"redirect_uri": "https://x/cb"}, {"verifier": "w" * 43}]
)
def test_a_live_grant_still_checks_client_redirect_and_pkce(over: dict[str, str]) -> None:
    """Expiry is one check among the others, not instead of them."""
    with pytest.raises(errors.InvalidGrant):
        check(NOW, **over)


def test_an_authorization_request_lives_until_its_expiry() -> None:
    """A remembered request is usable until `now + ttl`, then invalid_request, as is none."""
    stored = pending(REQUEST, request_id="r", now=NOW, ttl=1800)
    assert require_live(stored, NOW + 1799.9) == REQUEST
    for gone in (stored, None):
        with pytest.raises(errors.InvalidRequest) as refused:
            require_live(gone, NOW + 1800)
        assert refused.value.code == "invalid_request"


def test_an_authorization_request_reads_back_from_its_dict() -> None:
    """as_dict → from_dict is the identity (the form the store and the ticket carry)."""
    full = replace(REQUEST, scope=("openid", "profile"), acr_values=("x",), identity=Identity.AGENT)
    for request in (REQUEST, full):
        assert AuthorizationRequest.from_dict(request.as_dict()) == request
