"""Redeeming codes, minting tokens, and revoking them (RFC 6749 §4.1.2: a code used twice
revokes what it issued)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

import structlog

from authsvc import errors
from authsvc.clients import Client
from authsvc.core import tickets
from authsvc.core.crypto import Algorithm, compact_jws
from authsvc.core.oidc import claims as oidc_claims
from authsvc.core.oidc.token import check_grant
from authsvc.core.tickets import Ticket
from authsvc.keyring import Purpose
from authsvc.registry import person_key
from authsvc.services import sessions
from authsvc.services.broker import Broker
from authsvc.store.base import GuardedHit
from authsvc.store.records import AccessToken, IssuedTokens, Redemption, secret_hash

log = structlog.get_logger(__name__)


def sign_jwt(
    broker: Broker, claims: dict[str, Any], typ: str = "JWT", alg: Algorithm | None = None
) -> str:
    """Sign with the current token key of `alg` (the client's registered ID-token algorithm),
    or the main one: a compact JWS made with `cryptography` directly (joserfc's `jwt.encode`
    wrote the same header and payload and took ~10 µs more per token)."""
    record, key = broker.keyring.current(Purpose.TOKEN, alg)
    header = {"typ": typ, "alg": str(record.alg), "kid": record.kid}
    return compact_jws(header, claims, key)


async def redeem(
    broker: Broker,
    client: Client,
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
    hit: GuardedHit | None = None,
) -> dict[str, Any]:
    """Take the code once, check it, mint an ID token and an access token, consume the ticket.

    RFC 6749 §4.1.2 / §10.5: a code presented twice is refused and what it issued revoked. The
    access token is chosen before the code is taken, and taking the code leaves the "used"
    marker naming it in the same atomic Store step (`Store.redeem_code`), so a concurrent
    replay always finds what to revoke. An expired code is refused by the core, on the
    broker's clock (`check_grant`). The replay flags the code revoked before deleting the
    token; the winner writes the token before reading the flag (`Store.save_redemption` keeps
    that order) — in every interleaving the token ends deleted. `hit`: the request's
    rate-limit hit, counted before the code is taken (past it nothing is taken)."""
    access_token = secrets.token_urlsafe(32)
    token_hash = secret_hash(access_token)
    code_hash = secret_hash(code)
    marker = IssuedTokens(access_tokens=(token_hash,))
    settings = broker.settings
    ttl = settings.access_token_ttl
    grant = await broker.store.redeem_code(
        code_hash, marker, ttl=max(ttl, settings.code_ttl), hit=hit
    )
    if grant is None:
        await _refuse_replay(broker, code_hash)
        raise errors.InvalidGrant("the code is unknown or already used")
    now = broker.now()
    check_grant(
        grant, client_id=client.client_id, redirect_uri=redirect_uri, verifier=verifier, now=now
    )
    sub = oidc_claims.subject(
        grant.subject["id_number"],
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        subject_type=client.subject_type,
        salt=settings.pairwise_salt,
    )
    allowed = client.released_claims()
    id_token = sign_jwt(
        broker,
        oidc_claims.id_token_claims(
            grant.as_dict(),
            issuer=settings.issuer,
            sub=sub,
            now=now,
            ttl=settings.id_token_ttl,
            allowed=allowed,
        ),
        alg=Algorithm(client.id_token_signed_response_alg),
    )
    scope = tuple(s for s in grant.request.get("scope", ["openid"]) if s in client.scopes)
    userinfo = {
        "sub": sub,
        **oidc_claims.user_claims(scope, grant.subject, grant.account, allowed=allowed),
    }
    person = person_key(grant.subject["id_number"])
    record = AccessToken(
        claims=userinfo,
        client_id=client.client_id,
        sid=grant.sid,
        ticket=grant.ticket,
        scope=scope,
        person=person,
        card_no=str(grant.subject.get("card_no", "")),
    )
    issued = replace(marker, ticket=grant.ticket, client_id=client.client_id, person=person)
    session_ttl = max(ttl, settings.id_token_ttl)
    session = sessions.entry(
        sid=grant.sid, client_id=client.client_id, sub=sub, now=now, ttl=session_ttl
    )
    read = await broker.store.save_redemption(
        Redemption(code_hash, token_hash, record, issued, session),
        ttl=ttl,
        code_ttl=settings.code_ttl,
        session_ttl=session_ttl,
        keep_sessions=sessions.MAX_SESSIONS,
        now=now,
        audit={
            "time": now,
            "event": "token",
            "outcome": "issued",
            "ticket": grant.ticket,
            "client": client.client_id,
        },
    )
    if read.replayed:  # replayed meanwhile
        await revoke_issued(broker, issued, reason="code_replayed")
    await _consume_ticket(broker, grant.ticket, read.ticket)
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": int(ttl),
        "id_token": id_token,
        "scope": " ".join(scope),
    }


async def _consume_ticket(broker: Broker, ticket_id: str, stored: Ticket | None) -> None:
    """Mark the ticket consumed, starting from `stored` (read with the redemption's writes)."""
    try:
        if stored is None:
            raise errors.TicketNotFound()
        await broker.apply(
            ticket_id,
            lambda t: tickets.consume(t, now=broker.now()),
            {"step": "token"},
            stored=stored,
        )
    except Exception:  # the ticket may be gone (TTL); the tokens are valid regardless
        log.info("ticket could not be marked consumed", ticket=ticket_id[:8])


async def _refuse_replay(broker: Broker, code_hash: str) -> None:
    """A code presented twice: revoke every token it issued, and end that person's sessions
    everywhere by back-channel logout (the code may have been stolen)."""
    issued = await broker.store.issued_for_code(code_hash)
    if issued is None:
        return
    ttl = max(broker.settings.access_token_ttl, broker.settings.code_ttl)
    await broker.store.flag_code_replayed(code_hash, ttl=ttl)
    await revoke_issued(broker, issued, reason="code_replayed")
    await _end_person(broker, issued, reason="code_replayed")


async def _end_person(broker: Broker, issued: IssuedTokens, *, reason: str) -> None:
    from authsvc.services import logout  # logout builds on this module

    if issued.person:
        await logout.end_person_sessions(broker, issued.person, reason=reason)


async def revoke_issued(broker: Broker, issued: IssuedTokens, *, reason: str) -> int:
    await broker.store.delete_access_tokens(issued.access_tokens)
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "token",
            "outcome": "revoked",
            "reason": reason,
            "ticket": issued.ticket,
            "client": issued.client_id,
        }
    )
    return len(issued.access_tokens)


async def revoke_ticket(broker: Broker, ticket_id: str, *, reason: str) -> int:
    """Revoke what one ticket issued, then end that person's sessions everywhere."""
    issued = await broker.store.issued_for_ticket(ticket_id)
    if issued is None:
        return 0
    count = await revoke_issued(broker, issued, reason=reason)
    await _end_person(broker, issued, reason=reason)
    return count


async def access_token(broker: Broker, token: str) -> AccessToken | None:
    """The access token's record (RFC 6750), or None: unknown, expired or revoked."""
    return await broker.store.get_access_token(secret_hash(token)) if token else None


async def userinfo(broker: Broker, token: str) -> dict[str, Any] | None:
    record = await access_token(broker, token)
    return None if record is None else dict(record.claims)
