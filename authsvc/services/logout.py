"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and back-channel logout notifications
(OIDC Back-Channel Logout 1.0 §2.4)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError

from authsvc.clients import Client
from authsvc.core.crypto import Algorithm
from authsvc.keyring import Purpose
from authsvc.services import sessions
from authsvc.services.broker import Broker
from authsvc.services.tokens import revoke_issued, sign_jwt

log = logging.getLogger(__name__)
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def read_id_token_hint(broker: Broker, hint: str) -> dict[str, Any] | None:
    """Our own ID token, signature checked; an expired one is still a fine hint."""
    try:
        keys = broker.keyring.jose_keyset(Purpose.TOKEN, now=broker.now())
        claims = jwt.decode(hint, keys, algorithms=["ES256", "RS256", "Ed25519"]).claims
    except (JoseError, ValueError, KeyError, TypeError):
        return None
    return claims if claims.get("iss") == broker.settings.issuer else None


async def end_session(broker: Broker, claims: dict[str, Any], client: Client) -> None:
    """Revoke the login's tokens and tell the client's back channel."""
    sid = str(claims.get("sid", ""))
    issued = await broker.store.issued_for_sid(sid) if sid else None
    if issued:
        await revoke_issued(broker, issued, reason="end_session")
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "logout",
            "outcome": "ended",
            "client": client.client_id,
            "sid": sid,
        }
    )
    if client.backchannel_logout_uri and sid:
        sub = str(claims.get("sub", ""))
        if not await _deliver(broker, client, sub=sub, sid=sid, attempt=1):
            task = asyncio.create_task(_retry_backchannel(broker, client, sub=sub, sid=sid))
            broker.background.add(task)
            task.add_done_callback(broker.background.discard)


async def _retry_backchannel(broker: Broker, client: Client, *, sub: str, sid: str) -> None:
    """Back-Channel Logout 1.0 §2.8 lets the OP retry: a bounded number of times, with a
    growing delay (AUTHSVC_BACKCHANNEL_RETRY_DELAYS), each attempt audited, then give up."""
    for attempt, delay in enumerate(broker.settings.backchannel_retry_delays, start=2):
        await asyncio.sleep(delay)
        if await _deliver(broker, client, sub=sub, sid=sid, attempt=attempt):
            return
    await _audit_backchannel(
        broker, client, sid, "gave_up", attempt=1 + len(broker.settings.backchannel_retry_delays)
    )


async def _deliver(broker: Broker, client: Client, *, sub: str, sid: str, attempt: int) -> bool:
    delivered = await notify_backchannel(broker, client, sub=sub, sid=sid)
    await _audit_backchannel(broker, client, sid, "delivered" if delivered else "failed", attempt)
    return delivered


async def _audit_backchannel(
    broker: Broker, client: Client, sid: str, outcome: str, attempt: int
) -> None:
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "backchannel_logout",
            "outcome": outcome,
            "client": client.client_id,
            "sid": sid,
            "attempt": attempt,
        }
    )


async def end_person_sessions(broker: Broker, person: str, *, reason: str) -> int:
    """Revoke every login of this person and tell each client's back channel (Back-Channel
    Logout 1.0 §2.5: one logout token per session). Returns how many sessions ended."""
    ended = await sessions.take_all(broker, person)
    for entry in ended:
        issued = await broker.store.issued_for_sid(entry.sid)
        if issued:
            await revoke_issued(broker, issued, reason=reason)
        client = broker.clients.find(entry.client_id)
        if client is not None and client.backchannel_logout_uri:
            await notify_backchannel(broker, client, sub=entry.sub, sid=entry.sid)
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "logout",
            "outcome": "person_sessions_ended",
            "person": person,
            "reason": reason,
            "sessions": len(ended),
        }
    )
    return len(ended)


async def notify_backchannel(broker: Broker, client: Client, *, sub: str, sid: str) -> bool:
    now = broker.now()
    token = sign_jwt(
        broker,
        {
            "iss": broker.settings.issuer,
            "aud": client.client_id,
            "iat": int(now),
            "exp": int(now + 120),
            "jti": secrets.token_urlsafe(16),
            "sub": sub,
            "sid": sid,
            "events": {LOGOUT_EVENT: {}},
        },
        typ="logout+jwt",
        alg=Algorithm(client.id_token_signed_response_alg),  # as its ID tokens
    )
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
            http.post(client.backchannel_logout_uri, data={"logout_token": token}) as response,
        ):
            return response.status == 200
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.info("back-channel logout to %s failed: %r", client.client_id, exc)
        return False
