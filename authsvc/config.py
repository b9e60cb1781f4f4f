"""Settings, built once from the environment and passed down. No module globals.

`ENV` is the one table of environment variables: `Settings.from_env` reads it and
`tools/settings_doc.py` renders it into docs/operations.md, so the reference cannot drift.
A dotted field (`limits.ws_heartbeat`) lands in the nested dataclass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authsvc.core import forwarded
from authsvc.core.ecard import CARD_LIFETIME
from authsvc.core.tickets import Lifetimes

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CLIENTS = PACKAGE_DIR / "demo_clients.toml"


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 16 * 1024
    tickets_per_ip_per_minute: int = 60
    scans_per_device_per_minute: int = 20
    authorize_per_ip_per_minute: int = 60
    token_per_ip_per_minute: int = 120
    ws_per_ip: int = 20  # open sockets from one address, per process
    ws_per_ticket: int = 4  # authenticated sockets on one ticket, per process
    ws_unauthenticated: int = 1000  # sockets that have not sent their secret yet, per process
    ws_max_message_bytes: int = 4096
    ws_auth_timeout: float = 5.0
    ws_heartbeat: float = 15.0
    long_poll_timeout: float = 25.0
    face_max_failures: int = 3
    face_max_failures_per_day: int = 10
    face_challenge_ttl: float = 120.0
    ecard_applications_per_ip_per_minute: int = 30
    ecard_applications_per_person_per_day: int = 5
    device_clock_skew: float = 300.0


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8700
    event_loop: str = "asyncio"
    issuer: str = "http://127.0.0.1:8700"
    redis_url: str = ""
    redis_cluster_url: str = ""
    redis_prefix: str = "qrauth:"
    keys_dir: str = "keys"
    clients_file: str = str(DEFAULT_CLIENTS)
    audit_log: str = "var/audit.jsonl"
    db_path: str = ""
    registry_file: str = "var/registry.json"
    admin_token: str = ""
    allowed_origins: tuple[str, ...] = ()
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    limits: Limits = field(default_factory=Limits)
    code_ttl: float = 60.0
    access_token_ttl: float = 600.0
    id_token_ttl: float = 600.0
    key_grace: float = 7 * 24 * 3600.0
    #: An e-card lives CARD_LIFETIME: its issuer key must verify for longer than that.
    ecard_key_grace: float = CARD_LIFETIME + 30 * 24 * 3600.0
    #: `keys add` → `keys promote`: longer than every process's key reload (5 s) and every
    #: relying party's JWKS cache (the portal's PORTAL_JWKS_MAX_AGE, 300 s by default).
    key_publish_wait: float = 600.0
    face_threshold: float = 0.80
    accounts_timeout: float = 3.0
    trusted_proxies: tuple[forwarded.Network, ...] = ()
    pairwise_salt: str = "qrauth-demo-pairwise-salt"  # DEMO_PAIRWISE_SALT
    qr_auto_renewals: int = 5
    #: Back-channel logout: the delays before each retry after a failed first attempt.
    backchannel_retry_delays: tuple[float, ...] = (1.0, 4.0, 15.0, 60.0)
    #: How often each process looks for retries that are due (the queue is in the Store).
    backchannel_poll: float = 1.0

    production: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every variable of `ENV` that is set; the rest keep their defaults. The issuer
        defaults to `http://{host}:{port}`, and a server started from the environment keeps
        its long-lived records in `ENV_DB_DEFAULT` unless `AUTHSVC_DB` says otherwise."""
        env = os.environ if env is None else env
        groups: dict[str, dict[str, Any]] = {"": {}, "limits": {}, "lifetimes": {}}
        for var in ENV:
            raw = env.get(var.name)
            if raw is None or (raw == "" and not var.empty_ok):
                continue
            group, _, name = var.field.rpartition(".")
            groups[group][name] = var.parse(raw)
        top = groups[""]
        host, port = top.get("host", default_of("host")), top.get("port", default_of("port"))
        top.setdefault("issuer", f"http://{host}:{port}")
        top.setdefault("db_path", ENV_DB_DEFAULT)
        return cls(
            **top,
            limits=Limits(**groups["limits"]),
            lifetimes=Lifetimes(**groups["lifetimes"]),
        )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def grace_for(self, purpose: str) -> float:
        """How long a promoted-out key of `purpose` still verifies: past the life of anything
        it signed (QR codes and tokens: minutes; e-cards: CARD_LIFETIME)."""
        if purpose == "ecard":
            return max(self.ecard_key_grace, self.key_grace)
        return self.key_grace


DEMO_PAIRWISE_SALT = "qrauth-demo-pairwise-salt"
DEMO_CLIENT_SECRETS = frozenset({"portal-demo-secret"})


def deployment_problems(settings: Settings, client_secrets: list[str]) -> list[str]:
    """Why a production process must not start: each demo value still in place."""
    if not settings.production:
        return []
    problems = []
    if not settings.issuer.startswith("https://"):
        problems.append("AUTHSVC_ISSUER must be the public https:// URL")
    if settings.pairwise_salt == DEMO_PAIRWISE_SALT or len(settings.pairwise_salt) < 16:
        problems.append("AUTHSVC_PAIRWISE_SALT is the demo value (or shorter than 16)")
    if len(settings.admin_token) < 24:
        problems.append("AUTHSVC_ADMIN_TOKEN must be set (24 characters or more)")
    if Path(settings.clients_file).resolve() == DEFAULT_CLIENTS.resolve():
        problems.append("AUTHSVC_CLIENTS names the demo registrations")
    if any(secret in DEMO_CLIENT_SECRETS for secret in client_secrets):
        problems.append("a client registration still has a demo client_secret")
    if not (settings.redis_url or settings.redis_cluster_url):
        problems.append(
            "REDIS_URL or REDIS_CLUSTER_URL must be set (the memory store is one process)"
        )
    return problems


EVENT_LOOPS = ("asyncio", "uvloop")


def _one_of(value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
    return value


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _origins(value: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())


def _url(value: str) -> str:
    return value.rstrip("/")


def _cluster_url(value: str) -> str:
    """A Redis Cluster is reached over plain TCP (redis://): its sharded pub/sub connections
    never spoke TLS, and the cluster client (store/resp_cluster.py) does not either."""
    if urlsplit(value).scheme != "redis":
        raise ValueError(f"a Redis Cluster is reached at a redis:// URL, not {value!r}")
    return value


ENV_DB_DEFAULT = "var/authsvc.db"


@dataclass(frozen=True)
class EnvVar:
    name: str
    field: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False
    empty_ok: bool = False  # an empty value is a value (not "unset")


ENV: tuple[EnvVar, ...] = (
    EnvVar("AUTHSVC_HOST", "host", str, "interface authsvc listens on"),
    EnvVar("AUTHSVC_PORT", "port", int, "port authsvc listens on"),
    EnvVar(
        "AUTHSVC_EVENT_LOOP",
        "event_loop",
        lambda value: _one_of(value, EVENT_LOOPS),
        "`asyncio` (the standard library's loop) or `uvloop` (measured: it costs authsvc more "
        "CPU per login, see bench/README.md)",
    ),
    EnvVar(
        "AUTHSVC_ISSUER",
        "issuer",
        _url,
        "public base URL, the same on every process behind a load balancer "
        "(default http://{host}:{port})",
    ),
    EnvVar("AUTHSVC_PRODUCTION", "production", _flag, "refuse to start with a demo value"),
    EnvVar("REDIS_URL", "redis_url", str, "one Redis: switches to RedisStore", empty_ok=True),
    EnvVar(
        "REDIS_CLUSTER_URL",
        "redis_cluster_url",
        _cluster_url,
        "any node of a Redis Cluster (Redis >= 7): sharded keys and pub/sub",
    ),
    EnvVar("AUTHSVC_REDIS_PREFIX", "redis_prefix", str, "key prefix in Redis (no braces)"),
    EnvVar("AUTHSVC_KEYS_DIR", "keys_dir", str, "signing keys folder, shared by every process"),
    EnvVar("AUTHSVC_CLIENTS", "clients_file", str, "relying-party registrations (TOML or JSON)"),
    EnvVar("AUTHSVC_AUDIT_LOG", "audit_log", str, "audit file of the memory store"),
    EnvVar(
        "AUTHSVC_DB",
        "db_path",
        str,
        "SQLite file of the embedded store's long-lived records: e-cards, bindings, audit "
        f"(from the environment: {ENV_DB_DEFAULT}; empty: memory only)",
        empty_ok=True,
    ),
    EnvVar("AUTHSVC_REGISTRY", "registry_file", str, "the card registry's file (simulated)"),
    EnvVar("AUTHSVC_ADMIN_TOKEN", "admin_token", str, "bearer token of /api/admin/*", secret=True),
    EnvVar(
        "AUTHSVC_ALLOWED_ORIGINS",
        "allowed_origins",
        _origins,
        "extra WebSocket origins, comma-separated",
    ),
    EnvVar("AUTHSVC_TICKET_TTL", "lifetimes.pending", float, "seconds a QR may wait for a scan"),
    EnvVar("AUTHSVC_SCANNED_TTL", "lifetimes.scanned", float, "seconds from scan to confirm"),
    EnvVar(
        "AUTHSVC_CONFIRMED_TTL", "lifetimes.confirmed", float, "seconds a confirmed ticket is kept"
    ),
    EnvVar("AUTHSVC_MAX_BODY_BYTES", "limits.max_body_bytes", int, "largest JSON body accepted"),
    EnvVar(
        "AUTHSVC_TICKETS_PER_IP_PER_MINUTE",
        "limits.tickets_per_ip_per_minute",
        int,
        "QR tickets one browser address may create per minute",
    ),
    EnvVar(
        "AUTHSVC_SCANS_PER_DEVICE_PER_MINUTE",
        "limits.scans_per_device_per_minute",
        int,
        "scans one phone may make per minute",
    ),
    EnvVar(
        "AUTHSVC_AUTHORIZE_PER_IP_PER_MINUTE",
        "limits.authorize_per_ip_per_minute",
        int,
        "/authorize requests one address may make per minute (429 + Retry-After)",
    ),
    EnvVar(
        "AUTHSVC_TOKEN_PER_IP_PER_MINUTE",
        "limits.token_per_ip_per_minute",
        int,
        "/token requests one address may make per minute (429 + Retry-After)",
    ),
    EnvVar("AUTHSVC_WS_PER_IP", "limits.ws_per_ip", int, "WebSockets per address, per process"),
    EnvVar(
        "AUTHSVC_WS_PER_TICKET",
        "limits.ws_per_ticket",
        int,
        "authenticated WebSockets per ticket, per process (close 4429)",
    ),
    EnvVar(
        "AUTHSVC_WS_UNAUTHENTICATED",
        "limits.ws_unauthenticated",
        int,
        "WebSockets that have not sent their secret yet, per process",
    ),
    EnvVar(
        "AUTHSVC_WS_MAX_MESSAGE_BYTES",
        "limits.ws_max_message_bytes",
        int,
        "largest WebSocket message from a browser",
    ),
    EnvVar(
        "AUTHSVC_WS_AUTH_TIMEOUT",
        "limits.ws_auth_timeout",
        float,
        "seconds a new WebSocket has to send its browser secret",
    ),
    EnvVar(
        "AUTHSVC_WS_HEARTBEAT",
        "limits.ws_heartbeat",
        float,
        "WebSocket ping interval (keep under the proxy's read timeout)",
    ),
    EnvVar(
        "AUTHSVC_LONG_POLL_TIMEOUT",
        "limits.long_poll_timeout",
        float,
        "longest long-poll wait (keep under the proxy's read timeout)",
    ),
    EnvVar(
        "AUTHSVC_FACE_MAX_FAILURES",
        "limits.face_max_failures",
        int,
        "face checks a login may fail before it is refused",
    ),
    EnvVar(
        "AUTHSVC_FACE_MAX_FAILURES_PER_DAY",
        "limits.face_max_failures_per_day",
        int,
        "face checks one person may fail per day (every ticket and application together)",
    ),
    EnvVar(
        "AUTHSVC_FACE_CHALLENGE_TTL",
        "limits.face_challenge_ttl",
        float,
        "seconds a liveness challenge may be answered",
    ),
    EnvVar(
        "AUTHSVC_ECARD_APPLY_PER_IP",
        "limits.ecard_applications_per_ip_per_minute",
        int,
        "e-card applications from one address per minute",
    ),
    EnvVar(
        "AUTHSVC_ECARD_APPLY_PER_PERSON",
        "limits.ecard_applications_per_person_per_day",
        int,
        "e-card applications for one person per day",
    ),
    EnvVar(
        "AUTHSVC_DEVICE_CLOCK_SKEW",
        "limits.device_clock_skew",
        float,
        "seconds a phone's signed request time may differ from ours",
    ),
    EnvVar("AUTHSVC_CODE_TTL", "code_ttl", float, "authorization-code lifetime (seconds)"),
    EnvVar("AUTHSVC_ACCESS_TOKEN_TTL", "access_token_ttl", float, "access-token lifetime"),
    EnvVar("AUTHSVC_ID_TOKEN_TTL", "id_token_ttl", float, "ID-token lifetime"),
    EnvVar(
        "AUTHSVC_KEY_GRACE",
        "key_grace",
        float,
        "seconds a promoted-out qr/token key still verifies",
    ),
    EnvVar(
        "AUTHSVC_ECARD_KEY_GRACE",
        "ecard_key_grace",
        float,
        "seconds a promoted-out e-card issuer key still verifies (longer than a card lives)",
    ),
    EnvVar(
        "AUTHSVC_KEY_PUBLISH_WAIT",
        "key_publish_wait",
        float,
        "`keys add` to `keys promote`: longer than every relying party's JWKS cache",
    ),
    EnvVar("AUTHSVC_FACE_THRESHOLD", "face_threshold", float, "face-check score to pass (stub)"),
    EnvVar(
        "AUTHSVC_ACCOUNTS_TIMEOUT",
        "accounts_timeout",
        float,
        "seconds to wait for a portal's accounts endpoint",
    ),
    EnvVar(
        "AUTHSVC_TRUSTED_PROXIES",
        "trusted_proxies",
        forwarded.parse_networks,
        "proxy networks (127.0.0.1,10.0.0.0/8); behind them the browser address is the "
        "rightmost X-Forwarded-For entry not in the list",
    ),
    EnvVar(
        "AUTHSVC_PAIRWISE_SALT",
        "pairwise_salt",
        str,
        "salt of pairwise `sub` values: set once, never change",
        secret=True,
    ),
    EnvVar(
        "AUTHSVC_BACKCHANNEL_RETRY_DELAYS",
        "backchannel_retry_delays",
        lambda v: tuple(float(x) for x in v.split(",") if x.strip()),
        "seconds before each retry of a failed back-channel logout (comma-separated; then give up)",
    ),
    EnvVar(
        "AUTHSVC_BACKCHANNEL_POLL",
        "backchannel_poll",
        float,
        "seconds between each process's looks at the shared queue of back-channel logout retries",
    ),
    EnvVar(
        "AUTHSVC_QR_AUTO_RENEWALS", "qr_auto_renewals", int, "times an idle QR page renews its QR"
    ),
)


def default_of(path: str) -> Any:
    """The default of a (dotted) field, for the generated reference."""
    group, _, name = path.rpartition(".")
    holder: Any = {"": Settings, "limits": Limits, "lifetimes": Lifetimes}[group]
    for f in fields(holder):
        if f.name == name:
            return f.default
    raise KeyError(path)
