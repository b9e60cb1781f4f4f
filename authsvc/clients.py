"""Relying-party registrations, loaded from a TOML (or JSON) file.

Besides redirect URIs and credentials a registration says what the client may receive
(`scopes`, optionally narrowed by `claims`; least privilege: `openid profile` unless it lists
more), how its ID tokens are signed (`id_token_signed_response_alg`, OpenID Connect Dynamic
Client Registration §2), and which browser origins may call the token, userinfo, discovery
and JWKS endpoints (`allowed_origins`, by default the origins of its redirect URIs)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authsvc import errors
from authsvc.core.oidc.claims import SCOPES, claims_of
from authsvc.core.tickets import Identity

DEFAULT_SCOPES = ("openid", "profile")
ID_TOKEN_ALGORITHMS = ("ES256", "RS256")


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name_zh: str
    name_en: str
    redirect_uris: tuple[str, ...]
    client_secret: str = ""
    jwks: dict[str, Any] = field(default_factory=dict)
    post_logout_redirect_uris: tuple[str, ...] = ()
    accounts_endpoint: str = ""
    backchannel_logout_uri: str = ""
    identities: tuple[Identity, ...] = (Identity.PERSONAL, Identity.LEGAL_REP, Identity.AGENT)
    subject_type: str = "pairwise"
    number_matching: bool = False
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    claims: tuple[str, ...] | None = None  # None: every claim of its scopes
    id_token_signed_response_alg: str = "ES256"  # noqa: S105 - an algorithm name
    allowed_origins: tuple[str, ...] | None = None  # None: its redirect URIs' origins

    @property
    def is_public(self) -> bool:
        return not self.client_secret and not self.jwks

    @property
    def auth_method(self) -> str:
        if self.jwks:
            return "private_key_jwt"
        return "client_secret_basic" if self.client_secret else "none"

    def origins(self) -> set[str]:
        return {_origin(uri) for uri in self.redirect_uris}

    def cors_origins(self) -> set[str]:
        """Browser origins that may read discovery, JWKS, token and userinfo answers."""
        if self.allowed_origins is not None:
            return set(self.allowed_origins)
        return self.origins()

    def released_claims(self) -> frozenset[str]:
        """The claims this client may ever receive (beyond `sub` and the login's own)."""
        registered = claims_of(self.scopes)
        return registered if self.claims is None else registered & frozenset(self.claims)

    def display_name(self) -> dict[str, str]:
        return {"zh": self.name_zh, "en": self.name_en}


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _strings(raw: dict[str, Any], name: str) -> tuple[str, ...] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"client {raw.get('client_id')!r}: {name} must be a list of strings")
    return tuple(value)


def _check(client: Client) -> Client:
    """A registration that cannot be served is refused when the file is loaded."""

    def bad(why: str) -> ValueError:
        return ValueError(f"client {client.client_id!r}: {why}")

    unknown = set(client.scopes) - set(SCOPES)
    if unknown or "openid" not in client.scopes:
        raise bad(f"scopes must include openid and only {', '.join(SCOPES)}; not {unknown}")
    if client.claims is not None and not set(client.claims) <= claims_of(client.scopes):
        raise bad("claims must belong to the registered scopes")
    if client.id_token_signed_response_alg not in ID_TOKEN_ALGORITHMS:
        raise bad(f"id_token_signed_response_alg must be one of {ID_TOKEN_ALGORITHMS}")
    for origin in client.allowed_origins or ():
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or _origin(origin) != origin:
            raise bad(f"allowed_origins entry {origin!r} is not scheme://host[:port]")
    return client


def _client(raw: dict[str, Any]) -> Client:
    name = raw.get("name", {})
    return _check(
        Client(
            client_id=raw["client_id"],
            name_zh=name.get("zh", raw["client_id"]) if isinstance(name, dict) else str(name),
            name_en=name.get("en", raw["client_id"]) if isinstance(name, dict) else str(name),
            redirect_uris=tuple(raw["redirect_uris"]),
            client_secret=raw.get("client_secret", ""),
            jwks=raw.get("jwks", {}),
            post_logout_redirect_uris=tuple(raw.get("post_logout_redirect_uris", ())),
            accounts_endpoint=raw.get("accounts_endpoint", ""),
            backchannel_logout_uri=raw.get("backchannel_logout_uri", ""),
            identities=tuple(
                Identity(i) for i in raw.get("identities", [i.value for i in Identity])
            ),
            subject_type=raw.get("subject_type", "pairwise"),
            number_matching=bool(raw.get("number_matching", False)),
            scopes=_strings(raw, "scopes") or DEFAULT_SCOPES,
            claims=_strings(raw, "claims"),
            id_token_signed_response_alg=raw.get("id_token_signed_response_alg", "ES256"),
            allowed_origins=_strings(raw, "allowed_origins"),
        )
    )


class ClientRegistry:
    def __init__(self, clients: list[Client]) -> None:
        self._clients = {c.client_id: c for c in clients}
        self._cors: frozenset[str] | None = None

    @classmethod
    def load(cls, path: str | Path) -> ClientRegistry:
        text = Path(path).read_text(encoding="utf-8")
        raw = json.loads(text) if str(path).endswith(".json") else tomllib.loads(text)
        return cls([_client(c) for c in raw.get("clients", [])])

    def get(self, client_id: str) -> Client:
        client = self._clients.get(client_id)
        if client is None:
            raise errors.UnknownClient(client_id[:64])
        return client

    def find(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    def all(self) -> list[Client]:
        return list(self._clients.values())

    def origins(self) -> set[str]:
        return {origin for c in self._clients.values() for origin in c.origins()}

    def cors_origins(self) -> frozenset[str]:
        """Every registered browser origin (computed once: registrations load at start)."""
        if self._cors is None:
            self._cors = frozenset(o for c in self._clients.values() for o in c.cors_origins())
        return self._cors
