"""Client registrations (authsvc/clients.py): scopes, claims, ID-token alg and origins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import authsvc
from authsvc.clients import Client, ClientRegistry
from authsvc.core.oidc import claims as oidc_claims

BASE: dict[str, Any] = {"client_id": "app", "redirect_uris": ["https://app.example/cb"]}


def load(tmp_path: Path, **fields: Any) -> Client:
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [{**BASE, **fields}]}))
    return ClientRegistry.load(path).get("app")


def test_defaults_are_least_privilege(tmp_path: Path) -> None:
    """No scopes listed: openid and profile only, so the name and nothing else; ES256."""
    client = load(tmp_path)
    assert client.scopes == ("openid", "profile") and client.released_claims() == {"name"}
    assert client.id_token_signed_response_alg == "ES256"
    assert client.cors_origins() == {"https://app.example"}


def test_claims_narrow_the_scopes(tmp_path: Path) -> None:
    """`claims` keeps only the listed claims of the registered scopes."""
    client = load(
        tmp_path, scopes=["openid", "profile", "account"], claims=["name", "role", "company"]
    )
    assert client.released_claims() == {"name", "role", "company"}


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"scopes": ["profile"]}, "scopes"),
        ({"scopes": ["openid", "email"]}, "scopes"),
        ({"scopes": "openid profile"}, "scopes"),
        ({"claims": ["id_number"]}, "claims"),
        ({"scopes": ["openid", "phone"], "claims": ["name"]}, "claims"),
        ({"id_token_signed_response_alg": "HS256"}, "id_token_signed_response_alg"),
        ({"allowed_origins": ["https://app.example/"]}, "allowed_origins"),
        ({"allowed_origins": "https://app.example"}, "allowed_origins"),
    ],
)
def test_a_registration_that_cannot_be_served_is_refused(
    tmp_path: Path, fields: dict[str, Any], why: str
) -> None:
    """Unknown scopes, claims outside the scopes, an unsupported alg, a non-origin: refused."""
    with pytest.raises(ValueError, match=why):
        load(tmp_path, **fields)


def test_user_claims_release_only_what_is_allowed() -> None:
    """Asked for id_number but not registered for it: the ID number is left out."""
    person = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}
    given = oidc_claims.user_claims(
        ["openid", "profile", "id_number", "phone"], person, {}, allowed={"name"}
    )
    assert given == {"name": "张三"}
    assert oidc_claims.released(["openid", "phone", "profile"], {"name", "phone_number"}) == [
        "name",
        "phone_number",
    ]


def test_demo_registrations_load_and_keep_the_spa_narrow() -> None:
    """The shipped demo file: the portal may get the ID number and phone, demo-spa neither."""
    registry = ClientRegistry.load(Path(authsvc.__file__).parent / "demo_clients.toml")
    assert {"id_number", "phone_number"} <= registry.get("portal").released_claims()
    assert registry.get("demo-spa").released_claims() == {"name"}
