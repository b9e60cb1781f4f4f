"""Settings, built once from the environment and passed down; no module globals.

`ENV` is the one table of environment variables: `Settings.from_env` reads it and
`tools/settings_doc.py` renders it into docs/operations.md, so the reference cannot drift.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from yarl import URL

DEMO_CLIENT_SECRET = "portal-demo-secret"  # noqa: S105 — the demo's registered secret


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8701
    public_url: str = "http://127.0.0.1:8701"
    database_url: str = "sqlite+aiosqlite:///var/portal.db"
    authsvc_issuer: str = "http://127.0.0.1:8700"
    client_id: str = "portal"
    client_secret: str = DEMO_CLIENT_SECRET
    #: Empty: a random secret per process (one process only; see `deployment_problems`).
    session_secret: bytes = b""
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
    jwks_max_age_seconds: float = 300.0  # the JWKS is refetched at least this often
    production: bool = False
    cluster: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every variable of `ENV`; unset values keep the defaults. Migrating on start defaults
        to on only for the embedded single-process SQLite demo."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for var in ENV:
            if env.get(var.name):
                values[var.field] = var.parse(env[var.name])
        settings = cls(**values)
        if "migrate_on_start" not in values:
            embedded = settings.is_sqlite and not settings.cluster and not settings.production
            settings = settings.with_(migrate_on_start=embedded)
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

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


def deployment_problems(settings: Settings) -> list[str]:
    """Why this process must not start: a second process (cluster) cannot share sessions
    without a shared secret, and production refuses the demo values."""
    problems = []
    if (settings.cluster or settings.production) and len(settings.session_secret) < 32:
        problems.append(
            "PORTAL_SESSION_SECRET or PORTAL_SESSION_SECRET_FILE must hold a shared secret of at "
            "least 32 bytes when PORTAL_CLUSTER=1 or PORTAL_PRODUCTION=1: every process signs "
            "and checks the same session cookies"
        )
    if settings.production:
        if settings.client_secret == DEMO_CLIENT_SECRET:
            problems.append("PORTAL_CLIENT_SECRET is the demo value")
        if not settings.public_url.startswith("https://"):
            problems.append("PORTAL_PUBLIC_URL must be https:// in production")
        if settings.is_sqlite:
            problems.append("DATABASE_URL must name PostgreSQL in production")
    return problems


def _origin(url: str) -> str:
    parsed = URL(url)
    return str(parsed.origin())


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _read_secret(path: str) -> bytes:
    return Path(path).read_bytes().strip()


def _url(value: str) -> str:
    return value.rstrip("/")


@dataclass(frozen=True)
class EnvVar:
    name: str
    field: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False


ENV: tuple[EnvVar, ...] = (
    EnvVar("PORTAL_HOST", "host", str, "interface the portal listens on"),
    EnvVar("PORTAL_PORT", "port", int, "port the portal listens on"),
    EnvVar("PORTAL_PUBLIC_URL", "public_url", _url, "public base URL (behind nginx: nginx's)"),
    EnvVar("DATABASE_URL", "database_url", str, "SQLAlchemy URL: sqlite+aiosqlite or asyncpg"),
    EnvVar("AUTHSVC_ISSUER", "authsvc_issuer", _url, "the OpenID provider's issuer URL"),
    EnvVar("PORTAL_CLIENT_ID", "client_id", str, "the portal's client_id at authsvc"),
    EnvVar("PORTAL_CLIENT_SECRET", "client_secret", str, "client secret at authsvc", secret=True),
    EnvVar(
        "PORTAL_SESSION_SECRET_FILE",
        "session_secret",
        _read_secret,
        "a file holding the session secret (a mounted secret); PORTAL_SESSION_SECRET wins",
    ),
    EnvVar(
        "PORTAL_SESSION_SECRET",
        "session_secret",
        str.encode,
        "session-cookie HMAC key shared by every portal process (or PORTAL_SESSION_SECRET_FILE)",
        secret=True,
    ),
    EnvVar("PORTAL_UPLOAD_DIR", "upload_dir", Path, "folder for uploaded documents (shared)"),
    EnvVar("PORTAL_MAX_UPLOAD_BYTES", "max_upload_bytes", int, "largest upload accepted"),
    EnvVar("PORTAL_SESSION_TTL", "session_ttl_seconds", int, "session lifetime in seconds"),
    EnvVar(
        "PORTAL_MIGRATE_ON_START",
        "migrate_on_start",
        _flag,
        "migrate the schema at start (default: only for the single-process SQLite demo)",
    ),
    EnvVar("PORTAL_HTTP_TIMEOUT", "http_timeout_seconds", float, "timeout of calls to authsvc"),
    EnvVar(
        "PORTAL_JWKS_MIN_REFETCH",
        "jwks_min_refetch_seconds",
        float,
        "an unknown kid refetches authsvc's JWKS at most this often (seconds)",
    ),
    EnvVar(
        "PORTAL_JWKS_MAX_AGE",
        "jwks_max_age_seconds",
        float,
        "refetch authsvc's JWKS at least this often (seconds); authsvc's "
        "AUTHSVC_KEY_PUBLISH_WAIT must be longer",
    ),
    EnvVar(
        "PORTAL_PRODUCTION",
        "production",
        _flag,
        "refuse to start with demo values (client secret, SQLite, http, no session secret)",
    ),
    EnvVar(
        "PORTAL_CLUSTER",
        "cluster",
        _flag,
        "one of several processes: needs the shared session secret, never migrates on start",
    ),
    EnvVar(
        "PORTAL_BUSINESS_WINDOW",
        "business_window",
        str,
        "when applications may be submitted: `day HH:MM-day HH:MM` of each month",
    ),
    EnvVar("PORTAL_BUSINESS_TZ", "business_tz", str, "time zone of the business window"),
    EnvVar("PORTAL_KEYS_DIR", "cert_keys_dir", Path, "certificate signing keys (shared)"),
    EnvVar("PORTAL_CJK_FONT", "cjk_font", Path, "TrueType CJK font for PDFs (default WenQuanYi)"),
)


def default_of(field_name: str) -> Any:
    """The dataclass default of a field (for the generated reference)."""
    for f in fields(Settings):
        if f.name == field_name:
            return f.default
    raise KeyError(field_name)
