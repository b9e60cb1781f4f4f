"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and back-channel logout notifications
(OIDC Back-Channel Logout 1.0 §2.4)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import replace
from typing import Any

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError

from authsvc import errors
from authsvc.clients import Client
from authsvc.core.crypto import Algorithm
from authsvc.keyring import Purpose
from authsvc.services import sessions
from authsvc.services.broker import Broker
from authsvc.services.tokens import revoke_issued, sign_jwt
from authsvc.store.deliveries import Delivery

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
        await notify_or_queue(broker, client, sub=str(claims.get("sub", "")), sid=sid)


#: A claimed delivery is made again (as its next attempt) by any process once this has passed
#: without the claimer finishing it: longer than one delivery's HTTP timeout (3 s).
DELIVERY_LEASE = 60.0


async def notify_or_queue(broker: Broker, client: Client, *, sub: str, sid: str) -> None:
    """The first attempt at once; after a failure the retries go to the Store's delivery queue,
    which every process works through (`deliver_due`), so they outlive this process."""
    if await _deliver(broker, client, sub=sub, sid=sid, attempt=1):
        return
    then = await _next_attempt(broker, Delivery(client.client_id, sub, sid, 1, broker.now()))
    if then is not None:
        await broker.store.schedule_delivery(then)


async def deliver_due(broker: Broker, *, limit: int = 16) -> int:
    """Back-Channel Logout 1.0 §2.8 lets the OP retry: make every queued attempt that is due
    (claimed atomically: no other process makes the same attempt), then queue the next one
    after AUTHSVC_BACKCHANNEL_RETRY_DELAYS or give up. Returns how many attempts were made."""
    claimed = await broker.store.claim_deliveries(broker.now(), lease=DELIVERY_LEASE, limit=limit)
    await asyncio.gather(*(_attempt(broker, delivery) for delivery in claimed))
    return len(claimed)


async def _attempt(broker: Broker, delivery: Delivery) -> None:
    client = broker.clients.find(delivery.client_id)
    then = None
    if client is None or not client.backchannel_logout_uri:  # unregistered meanwhile
        await _audit_backchannel(broker, delivery, "gave_up")
    elif not await _deliver(
        broker, client, sub=delivery.sub, sid=delivery.sid, attempt=delivery.attempt
    ):
        then = await _next_attempt(broker, delivery)
    await broker.store.finish_delivery(delivery, then)


async def deliver_forever(broker: Broker) -> None:
    """Each process's share of the queue, every AUTHSVC_BACKCHANNEL_POLL seconds."""
    while True:
        try:
            while await deliver_due(broker):
                pass
        except errors.Unavailable as exc:  # Redis away: the entries wait for its return
            log.warning("back-channel logout queue unavailable: %s", exc.detail)
        except Exception:  # nor may a bad entry end the loop
            log.exception("back-channel logout deliveries failed; trying again")
        await asyncio.sleep(broker.settings.backchannel_poll)


async def _next_attempt(broker: Broker, failed: Delivery) -> Delivery | None:
    """The retry after `failed`, or None (audited `gave_up`) once the delays are used up."""
    delays = broker.settings.backchannel_retry_delays
    if failed.attempt > len(delays):
        await _audit_backchannel(broker, failed, "gave_up")
        return None
    return replace(
        failed, attempt=failed.attempt + 1, due=broker.now() + delays[failed.attempt - 1]
    )


async def _deliver(broker: Broker, client: Client, *, sub: str, sid: str, attempt: int) -> bool:
    delivered = await notify_backchannel(broker, client, sub=sub, sid=sid)
    outcome = "delivered" if delivered else "failed"
    await _audit_backchannel(broker, Delivery(client.client_id, sub, sid, attempt, 0.0), outcome)
    return delivered


async def _audit_backchannel(broker: Broker, delivery: Delivery, outcome: str) -> None:
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "backchannel_logout",
            "outcome": outcome,
            "client": delivery.client_id,
            "sid": delivery.sid,
            "attempt": delivery.attempt,
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
            await notify_or_queue(broker, client, sub=entry.sub, sid=entry.sid)
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
