"""Settings, built once from the environment and passed down. No module globals."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from authsvc.core import forwarded
from authsvc.core.tickets import Lifetimes

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CLIENTS = PACKAGE_DIR / "demo_clients.toml"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


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
    issuer: str = "http://127.0.0.1:8700"
    redis_url: str = ""
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
    face_threshold: float = 0.80
    accounts_timeout: float = 3.0
    trusted_proxies: tuple[forwarded.Network, ...] = ()
    pairwise_salt: str = "qrauth-demo-pairwise-salt"
    qr_auto_renewals: int = 5

    @classmethod
    def from_env(cls) -> Settings:
        port = _int("AUTHSVC_PORT", 8700)
        host = _env("AUTHSVC_HOST", "127.0.0.1")
        origins = tuple(o for o in _env("AUTHSVC_ALLOWED_ORIGINS", "").split(",") if o)
        return cls(
            host=host,
            port=port,
            issuer=_env("AUTHSVC_ISSUER", f"http://{host}:{port}").rstrip("/"),
            redis_url=_env("REDIS_URL", ""),
            redis_prefix=_env("AUTHSVC_REDIS_PREFIX", "qrauth:"),
            keys_dir=_env("AUTHSVC_KEYS_DIR", "keys"),
            clients_file=_env("AUTHSVC_CLIENTS", str(DEFAULT_CLIENTS)),
            audit_log=_env("AUTHSVC_AUDIT_LOG", "var/audit.jsonl"),
            db_path=_env("AUTHSVC_DB", "var/authsvc.db"),
            registry_file=_env("AUTHSVC_REGISTRY", "var/registry.json"),
            admin_token=_env("AUTHSVC_ADMIN_TOKEN", ""),
            allowed_origins=origins,
            lifetimes=Lifetimes(
                pending=_float("AUTHSVC_TICKET_TTL", 120.0),
                scanned=_float("AUTHSVC_SCANNED_TTL", 180.0),
                confirmed=_float("AUTHSVC_CONFIRMED_TTL", 60.0),
            ),
            limits=Limits(
                tickets_per_ip_per_minute=_int("AUTHSVC_TICKETS_PER_IP_PER_MINUTE", 60),
                scans_per_device_per_minute=_int("AUTHSVC_SCANS_PER_DEVICE_PER_MINUTE", 20),
                authorize_per_ip_per_minute=_int("AUTHSVC_AUTHORIZE_PER_IP_PER_MINUTE", 60),
                token_per_ip_per_minute=_int("AUTHSVC_TOKEN_PER_IP_PER_MINUTE", 120),
                ws_per_ip=_int("AUTHSVC_WS_PER_IP", 20),
                ws_per_ticket=_int("AUTHSVC_WS_PER_TICKET", 4),
                ws_unauthenticated=_int("AUTHSVC_WS_UNAUTHENTICATED", 1000),
                face_max_failures=_int("AUTHSVC_FACE_MAX_FAILURES", 3),
                face_max_failures_per_day=_int("AUTHSVC_FACE_MAX_FAILURES_PER_DAY", 10),
                ecard_applications_per_ip_per_minute=_int("AUTHSVC_ECARD_APPLY_PER_IP", 30),
                ecard_applications_per_person_per_day=_int("AUTHSVC_ECARD_APPLY_PER_PERSON", 5),
            ),
            code_ttl=_float("AUTHSVC_CODE_TTL", 60.0),
            key_grace=_float("AUTHSVC_KEY_GRACE", 7 * 24 * 3600.0),
            face_threshold=_float("AUTHSVC_FACE_THRESHOLD", 0.80),
            trusted_proxies=forwarded.parse_networks(_env("AUTHSVC_TRUSTED_PROXIES", "")),
            pairwise_salt=_env("AUTHSVC_PAIRWISE_SALT", "qrauth-demo-pairwise-salt"),
            qr_auto_renewals=_int("AUTHSVC_QR_AUTO_RENEWALS", 5),
        )
