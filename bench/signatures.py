"""The signature operations one complete OIDC login makes on the server, and what they cost.

The counts come from reading authsvc (the paths are in `OPS`), not from measuring; the cost of
each operation is `micro.sign_verify`'s (authsvc.core.crypto over a device request's canonical
bytes), for the algorithm of the key that makes it: the server's keyring for QR, e-card and
token keys, `--device-alg` for the phones' device keys, Ed25519 for the simulated face (a
capture is the face key's signature over the challenge: core.face.compare).

A bench login (bench.logins) makes 4 phone requests, scan, account (its answer carries the face
challenge), face and confirm, each through authsvc.http.mobile._signed; the bench client `hall`
authenticates at /token with client_secret_basic (a constant-time compare, no signature) and has
no accounts endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authsvc.clients import ClientRegistry

PHONE_REQUESTS = 3  # POST /api/mobile/tickets/{id}/scan, …/face (with the account), …/confirm


@dataclass(frozen=True)
class Op:
    name: str
    key: str  # "qr", "ecard", "token" (the server keyring's purpose), "device" or "face"
    op: str  # "sign" or "verify"
    count: int
    where: str
    broker_login: bool = True  # also in a broker login (without /token)


def ops(accounts_endpoint: bool) -> list[Op]:
    return [
        Op("qr_sign", "qr", "sign", 1, "POST /api/tickets: http.browser.qr_text → core.qr.build"),
        # No QR verify: at POST /api/mobile/tickets/{id}/scan the server compares the text with
        # the digest it stored with the ticket (login.require_issued); only the phone verifies it.
        Op(
            "ecard_verify",
            "ecard",
            "verify",
            1,
            "a credential's first phone request: http.mobile._phone → ecards.active_card → "
            "core.ecard.read (joserfc jwt.decode); later requests hit core.ecard.VerifiedCards "
            "(at most once per login: the bench's phones reuse their cards, so usually zero)",
        ),
        Op(
            "device_verify",
            "device",
            "verify",
            PHONE_REQUESTS,
            "each phone request: http.mobile._check_signature → core.device.verify_request",
        ),
        Op(
            "face_match_verify",
            "face",
            "verify",
            1,
            "POST /api/mobile/face: services.face.SignatureMatcher → core.face.compare (the "
            "simulated face service: the capture verified against the person's face key)",
        ),
        Op(
            "accounts_jwt_sign",
            "token",
            "sign",
            1 if accounts_endpoint else 0,
            "POST /api/mobile/tickets/{id}/scan: login.scan → AccountsProvider.accounts_for → "
            "_request_token, only for a client with an accounts endpoint",
        ),
        Op(
            "id_token_sign",
            "token",
            "sign",
            1,
            "POST /token: tokens.redeem → tokens.sign_jwt (core.crypto.compact_jws)",
            broker_login=False,
        ),
    ]


def has_accounts_endpoint(clients_file: Path | None, client_id: str) -> bool:
    assert clients_file is not None, "authsvc's clients file"
    client = ClientRegistry.load(clients_file).find(client_id)
    return client is not None and bool(client.accounts_endpoint)


# The two whole JOSE calls (the e-card through joserfc, the ID token through
# core.crypto.compact_jws), and micro.jose_us' figure for each.
JOSE_CALLS = {"ecard_verify": "ecard_read", "id_token_sign": "id_token_sign_jwt"}


def per_login(
    sign_verify_us: dict[str, dict[str, float]],
    algorithms: dict[str, str],
    accounts_endpoint: bool,
    jose_us: dict[str, float],
) -> tuple[dict[str, float], dict[str, Any]]:
    """(µs per complete OIDC login by operation, with `total`; the detail: each operation's
    count, algorithm, cost, code path, the sums by algorithm and for a broker login, and the
    total again with the joserfc calls costed whole)."""
    breakdown: dict[str, float] = {}
    table: dict[str, Any] = {}
    by_alg: dict[str, float] = {}
    broker = 0.0
    for op in ops(accounts_endpoint):
        alg = algorithms[op.key]
        each = sign_verify_us[alg][op.op]
        us = op.count * each
        breakdown[op.name] = round(us, 1)
        table[op.name] = {
            "count": op.count,
            "alg": alg,
            "op": op.op,
            "us_each": each,
            "us": round(us, 1),
            "where": op.where,
        }
        label = f"{alg} {op.op}"
        by_alg[label] = round(by_alg.get(label, 0.0) + us, 1)
        broker += us if op.broker_login else 0.0
    total = sum(breakdown.values())
    breakdown["total"] = round(total, 1)
    whole = total + sum(
        table[name]["count"] * (jose_us[call] - table[name]["us_each"])
        for name, call in JOSE_CALLS.items()
    )
    return breakdown, {
        "ops": table,
        "us_by_algorithm": by_alg,
        "broker_login_total_us": round(broker, 1),
        "jose_call_us": jose_us,
        "total_us_with_jose_calls_whole": round(whole, 1),
        "algorithms": algorithms,
        "accounts_endpoint": accounts_endpoint,
    }
