"""Validating an authorization request (authsvc/core/oidc/authorize.py), no server."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from authsvc import errors
from authsvc.clients import Client, ClientRegistry
from authsvc.core.oidc.authorize import AuthorizeRedirectError, validate
from authsvc.core.tickets import Identity

ISSUER = "http://127.0.0.1:8700"
CALLBACK = "https://hall.example/cb"
CALLBACK_Q = "https://hall.example/cb?tenant=7"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
CLIENTS = ClientRegistry(
    [
        Client(
            client_id="hall", name_zh="大厅", name_en="Hall", redirect_uris=(CALLBACK, CALLBACK_Q)
        ),
        Client(
            client_id="spa",
            name_zh="应用",
            name_en="App",
            redirect_uris=("https://spa.example/cb",),
            identities=(Identity.PERSONAL,),
        ),
    ]
)
GOOD = {
    "client_id": "hall",
    "redirect_uri": CALLBACK,
    "response_type": "code",
    "scope": "openid profile",
    "state": "st-123",
    "nonce": "n-456",
    "code_challenge": CHALLENGE,
    "code_challenge_method": "S256",
}


def params(**changes: str | None) -> dict[str, str]:
    return {k: v for k, v in {**GOOD, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"client_id": "nobody"}, "unknown_client"),
        ({"client_id": None}, "unknown_client"),
        ({"client_id": "HALL"}, "unknown_client"),
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"redirect_uri": CALLBACK + "/"}, "invalid_request"),
        ({"redirect_uri": CALLBACK + "?x=1"}, "invalid_request"),
        ({"redirect_uri": CALLBACK + "#frag"}, "invalid_request"),
        ({"redirect_uri": "https://HALL.example/cb"}, "invalid_request"),
        ({"redirect_uri": "https://spa.example/cb"}, "invalid_request"),  # another client's URI
        ({"redirect_uri": "https://evil.example/cb", "response_type": "token"}, "invalid_request"),
    ],
)
def test_errors_before_the_redirect_uri_is_verified_are_shown_not_redirected(
    changes: dict[str, str | None],
    code: str,
) -> None:
    """Unknown clients and unregistered redirect URIs raise a QrAuthError shown to the user."""
    with pytest.raises(errors.QrAuthError) as refused:
        validate(params(**changes), CLIENTS, ISSUER)
    assert not isinstance(refused.value, AuthorizeRedirectError)
    assert refused.value.code == code and refused.value.status == 400


REDIRECTED = [
    ({"response_type": None}, "unsupported_response_type"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"scope": None}, "invalid_scope"),
    ({"scope": "profile"}, "invalid_scope"),
    ({"scope": "openidprofile"}, "invalid_scope"),
    ({"scope": "openid id_number"}, "invalid_scope"),  # known, but not registered for hall
    ({"scope": "openid profile phone"}, "invalid_scope"),
    ({"scope": "openid email"}, "invalid_scope"),  # unknown here
    ({"scope": "openid OPENID"}, "invalid_scope"),
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": "s256"}, "invalid_request"),
    ({"code_challenge": CHALLENGE[:42]}, "invalid_request"),
    ({"code_challenge": "a" * 129}, "invalid_request"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"request_uri": "https://evil.example/req"}, "request_not_supported"),
]


@pytest.mark.parametrize(("changes", "error"), REDIRECTED, ids=[e for _, e in REDIRECTED])
@pytest.mark.parametrize("redirect_uri", [CALLBACK, CALLBACK_Q])
def test_errors_after_the_redirect_uri_is_verified_go_back_to_it(
    redirect_uri: str,
    changes: dict[str, str | None],
    error: str,
) -> None:
    """Every later problem is an RFC 6749 §4.1.2.1 redirect with error, state and iss (RFC 9207)."""
    with pytest.raises(AuthorizeRedirectError) as refused:
        validate(params(redirect_uri=redirect_uri, **changes), CLIENTS, ISSUER)
    location = urlsplit(refused.value.location)
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["error"] == [error] and query["state"] == ["st-123"] and query["iss"] == [ISSUER]
    assert query["error_description"][0]
    if redirect_uri == CALLBACK_Q:
        assert query["tenant"] == ["7"]


def test_error_redirect_without_state_has_no_state() -> None:
    """Without a state in the request, the error redirect carries none."""
    with pytest.raises(AuthorizeRedirectError) as refused:
        validate(params(state=None, scope="profile"), CLIENTS, ISSUER)
    assert "state" not in parse_qs(urlsplit(refused.value.location).query)


def test_redirect_error_escapes_the_state() -> None:
    """A hostile state is URL-encoded: it cannot add parameters to the redirect."""
    with pytest.raises(AuthorizeRedirectError) as refused:
        validate(params(state="x&error=access_denied&code=1", scope="profile"), CLIENTS, ISSUER)
    query = parse_qs(urlsplit(refused.value.location).query)
    assert query["error"] == ["invalid_scope"] and query["state"] == [
        "x&error=access_denied&code=1"
    ]
    assert "code" not in query


def test_valid_request() -> None:
    """A valid request comes back as the values the QR page and the code will use."""
    auth = validate(params(), CLIENTS, ISSUER)
    assert auth.as_dict() == {
        "client_id": "hall",
        "redirect_uri": CALLBACK,
        "scope": ["openid", "profile"],
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "identity": "personal",
        "display": "page",
        "acr_values": [],
    }


def test_state_and_nonce_are_bounded() -> None:
    """State and nonce are cut to 512 characters."""
    auth = validate(params(state="s" * 2000, nonce="n" * 2000), CLIENTS, ISSUER)
    assert len(auth.state) == len(auth.nonce) == 512


@pytest.mark.parametrize(
    ("client_id", "redirect", "hint", "identity"),
    [
        ("hall", CALLBACK, {"login_hint": "agent"}, Identity.AGENT),
        ("hall", CALLBACK, {"identity": "legal_rep", "login_hint": "agent"}, Identity.LEGAL_REP),
        ("hall", CALLBACK, {"login_hint": "alice@example.com"}, Identity.PERSONAL),
        ("hall", CALLBACK, {}, Identity.PERSONAL),
        ("spa", "https://spa.example/cb", {"login_hint": "legal_rep"}, Identity.PERSONAL),
    ],
)
def test_identity_falls_back_to_one_the_client_accepts(
    client_id: str,
    redirect: str,
    hint: dict[str, str],
    identity: Identity,
) -> None:
    """identity/login_hint picks the identity, unknown or not accepted ones fall back."""
    auth = validate(params(client_id=client_id, redirect_uri=redirect, **hint), CLIENTS, ISSUER)
    assert auth.identity is identity


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("embedded", "embedded"),
        ("popup", "popup"),
        ("touch", "page"),
        ("<script>", "page"),
    ],
)
def test_display(display: str, expected: str) -> None:
    """Only known display values are kept."""
    assert validate(params(display=display), CLIENTS, ISSUER).display == expected


def test_scope_is_deduplicated_and_kept_in_order() -> None:
    """`openid profile openid` is stored once each, in the order asked (RFC 6749 §3.3)."""
    request = validate(params(scope="profile  openid profile"), CLIENTS, ISSUER)
    assert request.scope == ("profile", "openid")


def test_a_client_registered_for_more_scopes_may_ask_for_them() -> None:
    """A registration listing id_number and phone lets its client ask for them."""
    wide = Client(
        client_id="wide",
        name_zh="宽",
        name_en="Wide",
        redirect_uris=(CALLBACK,),
        scopes=("openid", "profile", "id_number", "phone"),
    )
    request = validate(
        params(client_id="wide", scope="openid id_number phone"), ClientRegistry([wide]), ISSUER
    )
    assert request.scope == ("openid", "id_number", "phone")
