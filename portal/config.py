"""Settings, built once from the environment and passed down; no module globals."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from yarl import URL


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8701
    public_url: str = "http://127.0.0.1:8701"
    database_url: str = "sqlite+aiosqlite:///var/portal.db"
    authsvc_issuer: str = "http://127.0.0.1:8700"
    client_id: str = "portal"
    client_secret: str = "portal-demo-secret"  # noqa: S105 — the demo's registered secret
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    upload_dir: Path = Path("var/portal-uploads")
    max_upload_bytes: int = 5 * 1024 * 1024
    session_ttl_seconds: int = 8 * 3600
    migrate_on_start: bool = True
    http_timeout_seconds: float = 5.0
    jwks_min_refetch_seconds: float = 10.0  # an unknown kid refetches the JWKS at most this often
    business_window: str = "5 09:00-25 17:00"  # seed 001 item 41: 每月5号9点到25号17点
    business_tz: str = "Asia/Shanghai"
    cert_keys_dir: Path = Path("keys/portal")  # certificate signing keys (portal/documents)
    cjk_font: Path | None = None  # TrueType CJK font for PDFs; None: fonts-wqy-zenhei

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """PORTAL_* / DATABASE_URL / AUTHSVC_ISSUER; unset values keep the demo defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for key, name, kind in _ENV:
            if env.get(key):
                values[name] = kind(env[key])
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def origin(self) -> str:
        return _origin(self.public_url)

    @property
    def issuer_origin(self) -> str:
        return _origin(self.authsvc_issuer)

    @property
    def callback_url(self) -> str:
        return self.public_url.rstrip("/") + "/auth/callback"

    @property
    def secure_cookies(self) -> bool:
        return URL(self.public_url).scheme == "https"


def _origin(url: str) -> str:
    parsed = URL(url)
    return str(parsed.origin())


_ENV: tuple[tuple[str, str, Any], ...] = (
    ("PORTAL_HOST", "host", str),
    ("PORTAL_PORT", "port", int),
    ("PORTAL_PUBLIC_URL", "public_url", lambda v: v.rstrip("/")),
    ("DATABASE_URL", "database_url", str),
    ("AUTHSVC_ISSUER", "authsvc_issuer", lambda v: v.rstrip("/")),
    ("PORTAL_CLIENT_ID", "client_id", str),
    ("PORTAL_CLIENT_SECRET", "client_secret", str),
    ("PORTAL_SESSION_SECRET", "session_secret", lambda v: v.encode()),
    ("PORTAL_UPLOAD_DIR", "upload_dir", Path),
    ("PORTAL_MAX_UPLOAD_BYTES", "max_upload_bytes", int),
    ("PORTAL_BUSINESS_WINDOW", "business_window", str),
    ("PORTAL_BUSINESS_TZ", "business_tz", str),
    ("PORTAL_KEYS_DIR", "cert_keys_dir", Path),
    ("PORTAL_CJK_FONT", "cjk_font", Path),
)
