"""The one storage contract. Every backend passes tests/contract/.

Tickets are replaced by compare-and-set on `version`: the transition that wins is the one
whose expected version still matches, atomically, and only it publishes its event and writes
its audit record. Events are published per ticket. A listener subscribes first and then reads
the ticket with `get_ticket`: it sees every transition, either in what that read returns or as
an event after it (on Redis that read is what routes the ticket's events to this process: a
process only receives the events of tickets it holds listeners for).

The OIDC side keeps typed records (store/records.py, core/oidc/grant.py) under named methods;
codes, authorization requests and face challenges are taken once, atomically.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from authsvc import errors
from authsvc.core.face import Challenge
from authsvc.core.oidc.authorize import PendingRequest
from authsvc.core.oidc.grant import Grant
from authsvc.core.tickets import Ticket
from authsvc.store.deliveries import Delivery
from authsvc.store.records import AccessToken, FaceLock, IssuedTokens, Redemption, SessionEntry

Event = dict[str, Any]
ISSUED, CONFLICT, BLOCKED = "issued", "conflict", "blocked"
BLOCKING_STATUSES = ("lost", "suspended")


@dataclass(frozen=True, slots=True)
class NewCode:
    """An authorization code's grant, stored with the confirmation that issues it."""

    code_hash: str
    grant: Grant
    ttl: float


@dataclass(frozen=True, slots=True)
class GuardedHit:
    """A rate-limit hit a store step counts before it acts (a guarded commit, after the nonce;
    a code's redemption): past `limit` in `window` seconds the step does nothing and is
    refused as `label`."""

    key: str
    window: float
    limit: int
    label: str

    def check(self, count: int) -> None:
        """Refuse the hit that brought the counter to `count`, if that is past the limit."""
        if count > self.limit:
            raise self.refusal()

    def refusal(self) -> errors.RateLimited:
        return errors.RateLimited(self.label, retry_after=math.ceil(self.window))


@dataclass(slots=True)
class Assumed:
    """A phone request's reads taken from what this process last read or wrote, not from the
    store: the nonce is not spent yet. The commit that acts on them (`commit_transition(…,
    assumed=…)`) spends the nonce, checks that the card record, the face lock and the ticket's
    version are still what was assumed, counts `hit`, and only then commits — one round trip.
    Backend-specific names live in `keys`; the store sets the two outcomes below."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    hit: GuardedHit | None = None
    nonce_spent: bool = False  # the commit spent the nonce (a re-read must not spend it again)
    settled: bool = False  # the store's answer is final: committed, replayed or rate-limited


class StaleRead(Exception):
    """A guarded commit found the store moved on from what was assumed; nothing was written
    (but the nonce, which is spent). The caller reads the store and decides again."""


@dataclass(frozen=True, slots=True)
class PhoneRead:
    """What a signed phone request needs from the store, fetched together."""

    card: dict[str, Any] | None  # the e-card's record
    fresh_nonce: bool  # the device nonce had not been seen (it is now spent, unless `assumed`)
    ticket: Ticket | None  # the ticket the request is about, when it named one
    face_lock: FaceLock | None = None  # the person's face lock on `face_lock_day`, when asked
    assumed: Assumed | None = None  # not read but recalled: the commit must check it


@dataclass(frozen=True, slots=True)
class TicketRequestRead:
    """What `POST /api/tickets` needs from the store, fetched together."""

    hits: int  # the count `hit(hit_key)` returned (the per-IP ticket limit); 0 if not counted
    request: PendingRequest | None  # the authorization request the browser named
    counted: bool = True  # False: recalled, not read, and the hit not counted yet


@dataclass(frozen=True, slots=True)
class RedemptionRead:
    """What `save_redemption` read after writing."""

    replayed: bool  # the code was flagged replayed (`flag_code_replayed`) by then
    ticket: Ticket | None  # the code's ticket, to be consumed next


class Subscription(Protocol):
    """Events for one ticket, in order. A `{"resync": True}` event means some may be lost:
    read the ticket again."""

    closed: bool

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def get(self, timeout: float) -> Event | None: ...  # noqa: ASYNC109

    def close(self) -> None: ...


class Closable(Protocol):
    def close(self) -> None: ...


class Store(Protocol):
    name: str

    async def create_ticket(
        self,
        ticket: Ticket,
        *,
        ttl: float,
        audit: dict[str, Any] | None = None,
        hit: GuardedHit | None = None,
    ) -> None:
        """Write a new ticket and, when given, its audit record — one round trip on Redis.
        `hit` is counted first (in the same round trip where the backend allows); past its
        limit, errors.RateLimited and nothing is written."""
        ...

    async def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    async def phone_request(
        self,
        *,
        person: str,
        card_no: str,
        nonce_key: str,
        nonce_ttl: float,
        ticket_id: str = "",
        face_lock_day: str = "",
        spend_nonce: bool = True,
        recall: bool = False,
    ) -> PhoneRead:
        """One signed phone request's reads: spend the nonce (`add_once(nonce_key)`; not with
        `spend_nonce=False`, when a guarded commit has spent it), read the e-card record and,
        when given, the ticket `ticket_id` and the person's face lock on `face_lock_day`
        (`get_face_lock(person, face_lock_day)`) — one round trip on Redis. No rate-limit hit
        rides along: a replayed request, refused for its nonce, must not count against the
        device's limits.

        `recall=True` lets a backend whose reads cost a round trip answer from what this
        process last read or wrote of them, without I/O, spending nothing: the read then has
        `assumed`, and the caller must pass it to the commit it makes (`commit_transition`),
        or read again. A backend may always read instead."""
        ...

    async def ticket_request(
        self, request_id: str, *, hit_key: str, window: float, recall: bool = False
    ) -> TicketRequestRead:
        """`hit(hit_key, window=window)` and `get_authorization_request(request_id)` together —
        one round trip on Redis. The request is read even when the hit is past its limit (a
        read changes nothing); the caller refuses before it creates anything.

        `recall=True` lets a backend whose reads cost a round trip answer from the requests
        this process saved or read (they never change), without I/O and without counting:
        the read is then not `counted`, and the caller counts the hit with what it creates
        (`create_ticket(…, hit=…)`), or reads again. A backend may always read instead."""
        ...

    async def commit_transition(
        self,
        new: Ticket,
        *,
        expected_version: int,
        ttl: float,
        event: Event | None,
        audit: dict[str, Any],
        previous: Ticket | None = None,
        code: NewCode | None = None,
        assumed: Assumed | None = None,
    ) -> bool:
        """With `assumed` (a recalled `PhoneRead`'s): first spend its nonce (errors.
        RequestReplayed, nothing written, when it was spent), then raise StaleRead if the
        store no longer holds what was assumed or the version moved on, then count its hit
        (errors.RateLimited past the limit) — each refusal writes nothing else.

        Write `new` only if the stored ticket still has `expected_version`, then publish
        `event` (if any: a change the browser does not see has none) to the ticket's
        subscribers and append `audit` — all or nothing, in one round trip where the backend
        allows. `previous`, the ticket as read at that version, lets a
        backend write only the fields that changed. `code` is stored if and only if the
        transition commits, before its event can reach anyone (the confirmation's code)."""
        ...

    async def add_once(self, key: str, *, ttl: float) -> bool:
        """True the first time `key` is added within `ttl` (replay guards)."""
        ...

    async def hit(self, key: str, *, window: float) -> int:
        """Count one hit on `key` in a fixed window; returns the count so far (rate limits)."""
        ...

    def subscribe(self, ticket_id: str, *, maxsize: int = 16) -> Subscription: ...

    def listen(self, ticket_id: str, callback: Callable[[Event], None]) -> Closable:
        """Like `subscribe`, but events are handed to `callback` as they arrive (it must not
        block); `{"resync": True}` means some may be lost. For long-lived idle listeners."""
        ...

    # OIDC records. Each `ttl` is garbage collection only: what expires logically carries its
    # `expires_at` (or `until`), and the core compares it with the broker's clock.

    async def save_authorization_request(self, record: PendingRequest, *, ttl: float) -> None: ...

    async def get_authorization_request(self, request_id: str) -> PendingRequest | None: ...

    async def save_code(self, code_hash: str, grant: Grant, *, ttl: float) -> None: ...

    async def discard_code(self, code_hash: str) -> None:
        """Forget an unredeemed code (its ticket could not be confirmed)."""
        ...

    async def redeem_code(
        self, code_hash: str, marker: IssuedTokens, *, ttl: float, hit: GuardedHit | None = None
    ) -> Grant | None:
        """Take the code's grant once and, in the same atomic step, leave `marker` as what it
        issued: of two concurrent redeemers exactly one gets the grant, and the other always
        finds the marker (`issued_for_code`). None: unknown or already redeemed. `hit` is
        counted first (in the same round trip where the backend allows); past its limit,
        errors.RateLimited and the code is not taken."""
        ...

    async def issued_for_code(self, code_hash: str) -> IssuedTokens | None: ...

    async def save_issued(
        self, issued: IssuedTokens, *, code_hash: str, sid: str, ttl: float, code_ttl: float
    ) -> None:
        """What a code issued, found by the code (kept `code_ttl`), its ticket and its sid."""
        ...

    async def issued_for_ticket(self, ticket_id: str) -> IssuedTokens | None: ...

    async def issued_for_sid(self, sid: str) -> IssuedTokens | None: ...

    async def save_redemption(
        self,
        redemption: Redemption,
        *,
        ttl: float,
        code_ttl: float,
        session_ttl: float,
        keep_sessions: int,
        now: float,
        audit: dict[str, Any],
    ) -> RedemptionRead:
        """Everything a redeemed code leaves, then two reads — one round trip on one Redis, in
        this order: the access token (`save_access_token`, `ttl`), what the code issued
        (`save_issued`), the person's session entry (added to `person_sessions`, which then
        keeps the `keep_sessions` live ones of `kept_sessions`, for `session_ttl`), `audit`;
        then whether the code was flagged replayed, and the ticket. The token is written before
        the flag is read (tokens.redeem's ordering argument), on a Redis Cluster too, where
        the rest may run on several nodes at once."""
        ...

    async def flag_code_replayed(self, code_hash: str, *, ttl: float) -> None: ...

    async def code_replayed(self, code_hash: str) -> bool: ...

    async def save_access_token(
        self, token_hash: str, record: AccessToken, *, ttl: float
    ) -> None: ...

    async def get_access_token(self, token_hash: str) -> AccessToken | None: ...

    async def delete_access_tokens(self, token_hashes: Collection[str]) -> None: ...

    async def spend_assertion_jti(self, client_id: str, jti: str, *, ttl: float) -> bool:
        """True the first time this client's assertion `jti` is seen within `ttl` (RFC 7523
        §3: a `jti` is single use)."""
        ...

    async def person_sessions(self, person: str) -> tuple[SessionEntry, ...]:
        """The person's session index, earliest `until` first."""
        ...

    async def save_person_sessions(
        self, person: str, sessions: Sequence[SessionEntry], *, ttl: float
    ) -> None: ...

    async def take_person_sessions(self, person: str) -> tuple[SessionEntry, ...]:
        """The person's sessions, removed in the same atomic step (each one is ended once)."""
        ...

    async def save_face_challenge(self, challenge: Challenge, *, ttl: float) -> None: ...

    async def take_face_challenge(self, challenge_id: str) -> Challenge | None:
        """Atomically read and delete: a challenge is answered once."""
        ...

    async def save_face_lock(self, lock: FaceLock, *, ttl: float) -> None: ...

    async def get_face_lock(self, person: str, day: str) -> FaceLock | None: ...

    # E-cards: long-lived records, one person's keys together (one hash tag on Redis).

    async def issue_card(
        self, person: str, card: dict[str, Any], *, expected: str, now: float
    ) -> str:
        """One active e-card per person, atomically. If the person's current card number is
        still `expected` ("" = none) and that card is not lost or suspended, the old card is
        cancelled (`reason` "rebound") and `card` (with `card_no`) becomes the current one.
        Returns ISSUED, CONFLICT (the current card changed meanwhile) or BLOCKED (it is lost or
        suspended: 解挂 first) — nothing is written unless ISSUED."""
        ...

    async def get_card(self, card_no: str, *, person: str = "") -> dict[str, Any] | None:
        """The card's record; `person` (when the caller knows it) saves an index lookup."""
        ...

    async def current_card(self, person: str) -> dict[str, Any] | None:
        """The person's latest card (active or not), or None."""
        ...

    async def set_card_status(
        self,
        card_no: str,
        status: str,
        *,
        allowed: Collection[str],
        reason: str,
        now: float,
    ) -> dict[str, Any] | None:
        """Move the card to `status` only from a status in `allowed`; the new record, or None
        (unknown card, or not allowed: read it again to tell which)."""
        ...

    async def audit(self, record: dict[str, Any]) -> None: ...

    async def audit_records(self, limit: int = 100) -> list[dict[str, Any]]: ...

    async def ping(self) -> None:
        """Raise if the backend cannot be reached."""
        ...

    async def close(self) -> None: ...

    # ── Back-channel logout deliveries (a durable queue shared by every process) ──────────
    # Back-Channel Logout 1.0 §2.8: failed notifications are retried; the queue outlives the
    # process that ended the session. See store/deliveries.py.

    async def schedule_delivery(self, delivery: Delivery) -> None:
        """Queue `delivery` (its attempt, due at `delivery.due`), replacing any entry of the
        same client and session."""
        ...

    async def claim_deliveries(
        self, now: float, *, lease: float, limit: int = 16
    ) -> list[Delivery]:
        """The entries due by `now` (earliest first, at most `limit`), each handed to exactly
        one claimer: in the same atomic step each entry is replaced by `leased(now, lease)`."""
        ...

    async def finish_delivery(self, claimed: Delivery, then: Delivery | None) -> bool:
        """End the claim of `claimed`: the entry it left behind becomes `then` (None: removed,
        delivered or given up). False, nothing written, if another claim moved it on."""
        ...

    async def pending_deliveries(self) -> list[Delivery]:
        """Every queued entry, earliest due first (operators and tests)."""
        ...
