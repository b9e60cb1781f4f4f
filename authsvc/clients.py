"""Relying-party registrations, loaded from a TOML (or JSON) file."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authsvc import errors
from authsvc.core.tickets import Identity


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

    def display_name(self) -> dict[str, str]:
        return {"zh": self.name_zh, "en": self.name_en}


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _client(raw: dict[str, Any]) -> Client:
    name = raw.get("name", {})
    return Client(
        client_id=raw["client_id"],
        name_zh=name.get("zh", raw["client_id"]) if isinstance(name, dict) else str(name),
        name_en=name.get("en", raw["client_id"]) if isinstance(name, dict) else str(name),
        redirect_uris=tuple(raw["redirect_uris"]),
        client_secret=raw.get("client_secret", ""),
        jwks=raw.get("jwks", {}),
        post_logout_redirect_uris=tuple(raw.get("post_logout_redirect_uris", ())),
        accounts_endpoint=raw.get("accounts_endpoint", ""),
        backchannel_logout_uri=raw.get("backchannel_logout_uri", ""),
        identities=tuple(Identity(i) for i in raw.get("identities", [i.value for i in Identity])),
        subject_type=raw.get("subject_type", "pairwise"),
        number_matching=bool(raw.get("number_matching", False)),
    )


class ClientRegistry:
    def __init__(self, clients: list[Client]) -> None:
        self._clients = {c.client_id: c for c in clients}

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
