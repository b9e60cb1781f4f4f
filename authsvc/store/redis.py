"""The shared store: Redis, so that several broker processes see the same tickets.

Keys (all under `prefix`; see store/keys.py for the one function that builds them):
  t:{id}   a ticket, as a hash (codec.to_fields), expiring with PEXPIRE
  v:{name} an OIDC record (store/records.py) as JSON, named by store/keys.py: authreq:R,
           code:{H}, usedcode:{H} (one hash tag: redeemed in one script), revokedcode:H,
           at:H, ticket-tokens:T, sid-tokens:S, face-challenge:C, face-locked:P:DAY
           (H: the SHA-256 of a code or an access token, never the secret)
  z:person-sessions:P  a person's session index: a sorted set of entries (JSON) scored by
           `until`, so a login adds its entry without reading the others
  o:{key}  an `add_once` marker (device nonces; assertion:CLIENT:JTI)
  h:{key}  a `hit` counter
  card:{person:P}:N        an e-card record (JSON); card:{person:P}:current its number
  cardidx:N                which person card N belongs to (for lookups by number alone)
  audit    the audit stream (one JSON field `r` per entry)
  th:{id}  the processes holding a listener for ticket id (a set of their ids, with its TTL)
  events:{process}  a process's pub/sub channel; a message is "{ticket_id} {json}"

Events are routed: a process that listens to a ticket adds itself to the ticket's holders in
the same script that reads the ticket after subscribing (`get_ticket`), and a transition
publishes to the channels of the ticket's holders only, but the committing process's own: that
one hands the event to its listeners itself when the commit returns. So a process reads the
events of the tickets it holds, from other processes, and no others, however many processes
share the Redis.

On a Redis Cluster (`cluster=True`), a ticket, its holders, its shard's event channels and its
shard's audit stream share the hash tag of the ticket's shard (`{prefix}{sNN}:t:{id}`,
`…{sNN}:th:{id}`, `…{sNN}:events:{process}`, `…{sNN}:audit`), so a transition's Lua script
stays on one slot; events use sharded pub/sub (SPUBLISH in the script, SSUBSCRIBE on one
connection per master to the process's own channel of each shard: store/redis_events.py);
the audit is one stream per shard, merged by entry id when read (records of one ticket are in
one stream, in order; across shards the order is the masters' clocks', to the millisecond).
A confirmation's code is written by the transition's script on one Redis; on a Cluster its key
is in another slot, so it is written just before and taken back if the transition loses.

A phone step is decided on what this process recalls of the ticket, the e-card record and the
face lock when it has all three (store/recall.py: what it last read or wrote), and committed
by phone_guard.lua in front of commit_transition.lua: the nonce spent, the recalled values and
the version compared, the rate-limit hit counted, then the transition — one round trip where
a read and a commit took two. Not on a Cluster, where those keys are in different slots.

Commands are never retried by the client: a retried GETDEL, INCR or compare-and-set whose
first reply was lost would take, count or refuse twice (a cluster's MOVED/ASK redirections,
which mean "not executed here", are followed). A dead Redis is an errors.Unavailable.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import secrets
from collections.abc import Callable, Collection, Iterator, Sequence
from functools import cached_property
from importlib import resources
from typing import Any, cast

from redis import exceptions as rx
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from authsvc import errors
from authsvc.core import fastjson
from authsvc.core.face import Challenge
from authsvc.core.oidc.authorize import PendingRequest
from authsvc.core.oidc.grant import Grant
from authsvc.core.tickets import Ticket
from authsvc.store import codec, keys, records
from authsvc.store.base import (
    Assumed,
    GuardedHit,
    NewCode,
    PhoneRead,
    RedemptionRead,
    StaleRead,
    TicketRequestRead,
)
from authsvc.store.deliveries import Delivery, same_entry
from authsvc.store.fanout import Event, Fanout, Listener, LocalSubscription
from authsvc.store.keys import CLUSTER_SHARDS, KeyLayout
from authsvc.store.recall import Recall
from authsvc.store.records import AccessToken, FaceLock, IssuedTokens, Redemption, SessionEntry
from authsvc.store.redis_events import NET_ERRORS, EventReader, sharded_opener, single_opener
from authsvc.store.resp import LeanRedis
from authsvc.store.resp_cluster import LeanCluster

log = logging.getLogger(__name__)

_NET_ERRORS: tuple[type[Exception], ...] = (
    *NET_ERRORS,
    rx.ClusterDownError,
    rx.TryAgainError,
    rx.SlotNotCoveredError,
    rx.MaxConnectionsError,
    rx.BusyLoadingError,
    rx.ReadOnlyError,  # a replica now, after a failover
    rx.MasterDownError,
)
_AUDIT_MAXLEN = 100_000
CARD_TTL = 10 * 365 * 24 * 3600.0  # e-card records live for years


def _ms(seconds: float) -> int:
    """A TTL in whole milliseconds, at least 1 (Redis refuses 0)."""
    return max(1, math.ceil(seconds * 1000))


def _lua(name: str) -> str:
    path = resources.files("authsvc.store") / "lua" / name
    return path.read_text(encoding="utf-8")


_dumps = fastjson.dumps


@contextlib.contextmanager
def _guard(operation: str) -> Iterator[None]:
    """Redis unreachable, too slow or failing over → errors.Unavailable (a clean 503)."""
    try:
        yield
    except _NET_ERRORS as exc:
        raise errors.Unavailable(f"redis {operation}: {exc}") from exc


class RedisStore:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "qrauth:",
        cluster: bool = False,
        socket_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        max_connections: int = 1024,
    ) -> None:
        """No I/O here: `connect()` is the way in; a bare instance has no event reader."""
        # redis-py's default pool refuses the 101st concurrent command ("Too many connections");
        # a broker under a burst of reconnecting browsers needs more room than that.
        options: dict[str, Any] = {
            "max_connections": max_connections,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
            "protocol": 2,
        }
        self._layout = KeyLayout(prefix, CLUSTER_SHARDS if cluster else 1)
        self._prefix = prefix
        self._process = secrets.token_hex(8)  # names this process's event channels
        self._received = 0
        self._fanout = Fanout()
        self._pubsub_client_id: int | None = None
        self._redis: Redis | LeanCluster | LeanRedis
        self._pubsub_pool: ConnectionPool | None = None
        timeouts = {"socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout}
        if cluster:
            self._redis = LeanCluster(url, **timeouts)
            opener = sharded_opener(
                self._redis,
                self._layout.channels(self._process),
                socket_timeout=socket_timeout,
                socket_connect_timeout=connect_timeout,
                decode_responses=True,
                protocol=2,
            )
            self._publish_command = "SPUBLISH"
        else:
            # Commands go through LeanRedis (store/resp.py); redis-py's pool serves pub/sub.
            pool = self._pubsub_pool = ConnectionPool.from_url(url, **options)
            lean = LeanRedis.accepts(url)
            self._redis = LeanRedis(url, **timeouts) if lean else Redis(connection_pool=pool)
            opener = single_opener(
                pool, self._layout.channel(0, self._process), self._set_client_id
            )
            self._publish_command = "PUBLISH"
        self._events = EventReader(opener, self._on_message, self._fanout.resync_all)
        self._create = self._redis.register_script(_lua("create_ticket.lua"))
        self._commit = self._redis.register_script(_lua("commit_transition.lua"))
        hit_guard = _lua("hit_guard.lua")
        self._guarded_commit = self._redis.register_script(
            _lua("phone_guard.lua") + hit_guard + _lua("commit_transition.lua")
        )
        self._counted_take = self._redis.register_script(hit_guard + _lua("take_leaving.lua"))
        self._counted_create = self._redis.register_script(hit_guard + _lua("create_ticket.lua"))
        # On a Cluster the card, the lock and the ticket are in different slots: no guard.
        self._recall = None if cluster else Recall()
        self._watch = self._redis.register_script(_lua("watch_ticket.lua"))
        self._hit = self._redis.register_script(_lua("hit.lua"))
        self._take_leaving = self._redis.register_script(_lua("take_leaving.lua"))
        self._issue_card = self._redis.register_script(_lua("issue_card.lua"))
        self._set_card_status = self._redis.register_script(_lua("set_card_status.lua"))
        self._take_sessions = self._redis.register_script(_lua("take_sessions.lua"))

    @classmethod
    async def connect(
        cls, url: str, *, prefix: str = "qrauth:", cluster: bool = False
    ) -> RedisStore:
        """Returns once the event channels are subscribed: subscribe-then-read misses nothing."""
        store = cls(url, prefix=prefix, cluster=cluster)
        try:
            await store.start()
        except BaseException:
            await store.close()
            raise
        return store

    async def start(self) -> None:
        with _guard("subscribe"):
            if isinstance(self._redis, LeanCluster):
                await self._redis.initialize()  # the slot map
            await self._events.start(f"redis-events:{self._prefix}")

    def _set_client_id(self, client_id: int) -> None:
        self._pubsub_client_id = client_id

    @property
    def pubsub_client_id(self) -> int | None:
        """The Redis CLIENT ID of the pub/sub connection on one Redis (diagnostics, tests)."""
        return self._pubsub_client_id

    @property
    def layout(self) -> KeyLayout:
        return self._layout

    @property
    def event_connections(self) -> int:
        """Subscriber connections this process holds: 1, or one per master of a cluster."""
        return self._events.connections

    @property
    def events_received(self) -> int:
        """Event messages that reached this process (routed: only tickets it listens to)."""
        return self._received

    @property
    def event_rebuilds(self) -> int:
        """How often the subscriber connections were rebuilt (each one resynced everyone)."""
        return self._events.rebuilds

    @property
    def recalls(self) -> bool:
        """Whether phone reads may be answered from memory (`phone_request(recall=True)`)."""
        return self._recall is not None

    def _key(self, kind: str, name: str) -> str:
        return self._layout.plain(kind, name)

    # Tickets

    async def create_ticket(
        self,
        ticket: Ticket,
        *,
        ttl: float,
        audit: dict[str, Any] | None = None,
        hit: GuardedHit | None = None,
    ) -> None:
        record = "" if audit is None else _dumps(audit)
        args: list[str | int] = [_ms(ttl), record, _AUDIT_MAXLEN]
        for field, value in codec.to_fields(ticket).items():
            args += [field, value]
        keys = [
            self._layout.ticket(ticket.id),
            self._layout.audit(self._layout.shard_of(ticket.id)),
        ]
        with _guard("create_ticket"):
            await self._counted(self._create, self._counted_create, hit, keys=keys, args=args)
        if self._recall is not None:
            self._recall.ticket_now(ticket)

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        """When this process listens to the ticket, the read also makes it one of the ticket's
        holders (watch_ticket.lua), so that its events come here from then on."""
        ticket_key = self._layout.ticket(ticket_id)
        with _guard("get_ticket"):
            if self._fanout.has(ticket_id):
                flat = await self._watch(
                    keys=[ticket_key, self._layout.holders(ticket_id)], args=[self._process]
                )
                fields = dict(zip(flat[::2], flat[1::2], strict=True))
            else:
                fields = cast("dict[str, str]", await self._redis.hgetall(ticket_key))
        return codec.from_fields(fields) if fields else None

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
        """One pipeline (on a Redis Cluster its commands go to their nodes at once: none of
        them depends on another's reply), or none when everything asked for is recalled."""
        card_key = self._card_key(person, card_no)
        lock_key = self._key("v", keys.face_lock(person, face_lock_day)) if face_lock_day else ""
        nonce = self._key("o", nonce_key)
        if recall and ticket_id and self._recall is not None:
            recalled = self._recalled(card_key, lock_key, ticket_id, nonce, nonce_ttl)
            if recalled is not None:
                return recalled
        with _guard("phone_request"):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(card_key)
                if spend_nonce:
                    pipe.set(nonce, "1", nx=True, px=_ms(nonce_ttl))
                if ticket_id:
                    pipe.hgetall(self._layout.ticket(ticket_id))
                if lock_key:
                    pipe.get(lock_key)
                replies = iter(await pipe.execute())
        card = cast("str | None", next(replies))
        fresh = bool(next(replies)) if spend_nonce else True
        fields = cast("dict[str, str]", next(replies)) if ticket_id else {}
        lock = cast("str | None", next(replies)) if lock_key else None
        read = PhoneRead(
            card=_loads_value(card),
            fresh_nonce=fresh,
            ticket=codec.from_fields(fields) if fields else None,
            face_lock=records.loads(FaceLock, lock),
        )
        self._remember(read, card_key, card, lock_key, lock)
        return read

    def _remember(
        self, read: PhoneRead, card_key: str, card: str | None, lock_key: str, lock: str | None
    ) -> None:
        if self._recall is None:
            return
        self._recall.value_now(card_key, card)
        if lock_key:
            self._recall.value_now(lock_key, lock)
        if read.ticket is not None:
            self._recall.ticket_now(read.ticket)

    def _recalled(
        self, card_key: str, lock_key: str, ticket_id: str, nonce: str, nonce_ttl: float
    ) -> PhoneRead | None:
        """The read from memory, if every part of it is there (a missing card is read)."""
        assert self._recall is not None
        ticket = self._recall.tickets.get(ticket_id)
        card = self._recall.values.get(card_key)
        lock = self._recall.values.get(lock_key) if lock_key else ""
        if ticket is None or not card or lock is None:
            return None
        return PhoneRead(
            card=_loads_value(card),
            fresh_nonce=True,
            ticket=ticket,
            face_lock=records.loads(FaceLock, lock or None),
            assumed=Assumed((nonce, card_key, lock_key), (str(_ms(nonce_ttl)), card, lock)),
        )

    async def ticket_request(
        self, request_id: str, *, hit_key: str, window: float, recall: bool = False
    ) -> TicketRequestRead:
        recalled = self._recall.requests.get(request_id) if recall and self._recall else None
        if recalled is not None:
            return TicketRequestRead(hits=0, request=recalled, counted=False)
        with _guard("ticket_request"):
            async with self._redis.pipeline(transaction=False) as pipe:
                self._queue_hit(pipe, hit_key, window)
                pipe.get(self._key("v", keys.authorization_request(request_id)))
                count, raw = await pipe.execute()
        request = records.loads_request(cast("str | None", raw))
        if request is not None and self._recall is not None:
            self._recall.requests.put(request_id, request)
        return TicketRequestRead(hits=int(count), request=request)

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
        if " " in new.id:
            raise ValueError(f"ticket id with a space: {new.id!r}")
        if code is not None and self._layout.clustered:
            return await self._commit_then_code(
                new, code, expected_version=expected_version, ttl=ttl, event=event,
                audit=audit, previous=previous,
            )  # fmt: skip
        shard = self._layout.shard_of(new.id)
        if previous is not None and previous.version == expected_version:
            mode, fields = "changed", codec.changed_fields(previous, new)
        else:
            mode, fields = "full", codec.to_fields(new)
        args: list[str | int] = [
            str(expected_version),
            _ms(ttl),
            self._publish_command,
            f"{new.id} {_dumps(event)}" if event is not None else "",
            _dumps(audit),
            _AUDIT_MAXLEN,
            mode,
            self._layout.channel_prefix(shard),
            records.dumps(code.grant) if code else "",
            _ms(code.ttl) if code else 0,
            self._process,
        ]
        for field, value in fields.items():
            args += [field, value]
        names = [
            self._layout.ticket(new.id),
            self._layout.audit(shard),
            self._layout.holders(new.id),
        ]
        if code is not None:
            names.append(self._key("v", keys.code(code.code_hash)))
        with _guard("commit_transition"):
            if assumed is None:
                committed = bool(await self._commit(keys=names, args=args))
            else:
                committed = await self._commit_assumed(assumed, new.id, names, args)
        if not committed:
            return False
        if self._recall is not None:
            self._recall.ticket_now(new)
        if event is not None and self._fanout.has(new.id):
            self._fanout.deliver(new.id, event)  # own listeners: not through Redis (ARGV[11])
        return True

    async def _counted(
        self, plain: Any, counted: Any, hit: GuardedHit | None, *, keys: list[str], args: list[Any]
    ) -> Any:
        """The script `plain`, with `hit` counted first: on one Redis by `counted` (the same
        script behind hit_guard.lua), in its round trip; on a Cluster, where the counter is in
        another slot, on its own. Past the limit errors.RateLimited, and `plain` does nothing."""
        if hit is None:
            return await plain(keys=keys, args=args)
        if self._layout.clustered:
            hit.check(await self.hit(hit.key, window=hit.window))
            return await plain(keys=keys, args=args)
        guard_keys, guard_args = self._hit_guard(hit)
        reply = await counted(keys=guard_keys + keys, args=guard_args + args)
        if reply == "limited":
            raise hit.refusal()
        return reply

    def _hit_guard(self, hit: GuardedHit | None) -> tuple[list[str], list[str | int]]:
        """hit_guard.lua's KEYS and ARGV for `hit` (none: the counter's name empty)."""
        if hit is None:
            return [""], [0, 0]
        return [self._key("h", hit.key)], [_ms(hit.window), hit.limit]

    async def _commit_assumed(
        self, assumed: Assumed, ticket_id: str, names: list[str], args: list[str | int]
    ) -> bool:
        """commit_transition.lua behind phone_guard.lua: the assumed reads are checked, the
        nonce spent and the hit counted in the commit's round trip."""
        hit_keys, hit_args = self._hit_guard(assumed.hit)
        guard_keys, guard_args = [*assumed.keys, *hit_keys], [*assumed.values, *hit_args]
        outcome = await self._guarded_commit(keys=guard_keys + names, args=guard_args + args)
        assumed.nonce_spent = outcome != "replayed"
        if outcome == "replayed":
            assumed.settled = True
            raise errors.RequestReplayed()
        if outcome == "limited" and assumed.hit is not None:
            assumed.settled = True
            raise assumed.hit.refusal()
        if outcome != 1:  # "stale", or the version moved on between the guard and the commit
            assert self._recall is not None
            self._recall.forget(ticket_id, assumed.keys[1], assumed.keys[2])
            raise StaleRead()
        assumed.settled = True
        return True

    async def _commit_then_code(
        self, new: Ticket, code: NewCode, *, expected_version: int, **commit: Any
    ) -> bool:
        """On a Redis Cluster the code's key is in another slot than the ticket's: the code is
        stored first (a confirmed ticket never names a code that is not there yet), and taken
        back when the transition does not commit."""
        await self.save_code(code.code_hash, code.grant, ttl=code.ttl)
        try:
            committed = await self.commit_transition(
                new, expected_version=expected_version, **commit
            )
        except errors.QrAuthError:
            await self.discard_code(code.code_hash)
            raise
        if not committed:
            await self.discard_code(code.code_hash)
        return committed

    # OIDC records: JSON values (store/records.py) under `v:`, named by store/keys.py

    async def _set(self, name: str, raw: str, ttl: float) -> None:
        with _guard("set"):
            await self._redis.set(self._key("v", name), raw, px=_ms(ttl))

    async def _get(self, name: str) -> str | None:
        with _guard("get"):
            return cast("str | None", await self._redis.get(self._key("v", name)))

    async def _take(self, name: str) -> str | None:
        with _guard("take"):
            return cast("str | None", await self._redis.getdel(self._key("v", name)))

    async def _delete(self, *names: str) -> None:
        if names:
            with _guard("delete"):
                for name in names:  # one at a time: on a Cluster they may be in any slot
                    await self._redis.delete(self._key("v", name))

    async def save_authorization_request(self, record: PendingRequest, *, ttl: float) -> None:
        await self._set(keys.authorization_request(record.id), records.dumps(record), ttl)
        if self._recall is not None:
            self._recall.requests.put(record.id, record)

    async def get_authorization_request(self, request_id: str) -> PendingRequest | None:
        return records.loads_request(await self._get(keys.authorization_request(request_id)))

    async def save_code(self, code_hash: str, grant: Grant, *, ttl: float) -> None:
        await self._set(keys.code(code_hash), records.dumps(grant), ttl)

    async def discard_code(self, code_hash: str) -> None:
        await self._delete(keys.code(code_hash))

    async def redeem_code(
        self, code_hash: str, marker: IssuedTokens, *, ttl: float, hit: GuardedHit | None = None
    ) -> Grant | None:
        names = [self._key("v", keys.code(code_hash)), self._key("v", keys.used_code(code_hash))]
        args: list[str | int] = [records.dumps(marker), _ms(ttl)]
        with _guard("redeem_code"):
            raw = await self._counted(
                self._take_leaving, self._counted_take, hit, keys=names, args=args
            )
        return records.loads(Grant, cast("str | None", raw or None))

    async def issued_for_code(self, code_hash: str) -> IssuedTokens | None:
        return records.loads(IssuedTokens, await self._get(keys.used_code(code_hash)))

    def _issued_writes(
        self, issued: IssuedTokens, *, code_hash: str, sid: str, ttl: float, code_ttl: float
    ) -> list[tuple[str, str, int]]:
        raw = records.dumps(issued)
        return [
            (self._key("v", keys.used_code(code_hash)), raw, _ms(max(ttl, code_ttl))),
            (self._key("v", keys.ticket_tokens(issued.ticket)), raw, _ms(ttl)),
            (self._key("v", keys.sid_tokens(sid)), raw, _ms(ttl)),
        ]

    async def save_issued(
        self, issued: IssuedTokens, *, code_hash: str, sid: str, ttl: float, code_ttl: float
    ) -> None:
        writes = self._issued_writes(
            issued, code_hash=code_hash, sid=sid, ttl=ttl, code_ttl=code_ttl
        )
        with _guard("save_issued"):
            for key, raw, px in writes:  # one at a time: on a Cluster they may be in any slot
                await self._redis.set(key, raw, px=px)

    async def issued_for_ticket(self, ticket_id: str) -> IssuedTokens | None:
        return records.loads(IssuedTokens, await self._get(keys.ticket_tokens(ticket_id)))

    async def issued_for_sid(self, sid: str) -> IssuedTokens | None:
        return records.loads(IssuedTokens, await self._get(keys.sid_tokens(sid)))

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
        """One pipeline on one Redis (its commands run in order on one connection). A Redis
        Cluster pipeline sends to each node at once, so there the token is written first, on
        its own, and the pipeline (with the flag's read) follows."""
        issued, session = redemption.issued, redemption.session
        token = (
            self._key("v", keys.access_token(redemption.token_hash)),
            records.dumps(redemption.token),
            _ms(ttl),
        )
        writes = self._issued_writes(
            issued, code_hash=redemption.code_hash, sid=session.sid, ttl=ttl, code_ttl=code_ttl
        )
        sessions = self._sessions_key(issued.person)
        stream, entry = self._audit_entry(audit)
        clustered = self._layout.clustered
        with _guard("save_redemption"):
            if clustered:
                await self._redis.set(token[0], token[1], px=token[2])
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, raw, px in writes if clustered else [token, *writes]:
                    pipe.set(key, raw, px=px)
                pipe.zadd(sessions, {records.dumps_session(session): session.until})
                pipe.zremrangebyscore(sessions, "-inf", repr(now))
                pipe.zremrangebyrank(sessions, 0, -keep_sessions - 1)
                pipe.pexpire(sessions, _ms(session_ttl))
                pipe.xadd(stream, {"r": entry}, maxlen=_AUDIT_MAXLEN, approximate=True)
                pipe.get(self._key("v", keys.revoked_code(redemption.code_hash)))
                pipe.hgetall(self._layout.ticket(issued.ticket))
                replies = await pipe.execute()
        fields = cast("dict[str, str]", replies[-1])
        return RedemptionRead(
            replayed=replies[-2] is not None,
            ticket=codec.from_fields(fields) if fields else None,
        )

    async def flag_code_replayed(self, code_hash: str, *, ttl: float) -> None:
        await self._set(keys.revoked_code(code_hash), '{"reason":"code_replayed"}', ttl)

    async def code_replayed(self, code_hash: str) -> bool:
        return await self._get(keys.revoked_code(code_hash)) is not None

    async def save_access_token(self, token_hash: str, record: AccessToken, *, ttl: float) -> None:
        await self._set(keys.access_token(token_hash), records.dumps(record), ttl)

    async def get_access_token(self, token_hash: str) -> AccessToken | None:
        return records.loads(AccessToken, await self._get(keys.access_token(token_hash)))

    async def delete_access_tokens(self, token_hashes: Collection[str]) -> None:
        await self._delete(*(keys.access_token(h) for h in token_hashes))

    async def spend_assertion_jti(self, client_id: str, jti: str, *, ttl: float) -> bool:
        return await self.add_once(keys.assertion(client_id, jti), ttl=ttl)

    def _sessions_key(self, person: str) -> str:
        return self._key("z", keys.person_sessions(person))

    async def person_sessions(self, person: str) -> tuple[SessionEntry, ...]:
        with _guard("person_sessions"):
            members = cast("list[str]", await self._redis.zrange(self._sessions_key(person), 0, -1))
        return tuple(records.loads_session(m) for m in members)

    async def save_person_sessions(
        self, person: str, sessions: Sequence[SessionEntry], *, ttl: float
    ) -> None:
        key = self._sessions_key(person)
        with _guard("save_person_sessions"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if sessions:
                    pipe.zadd(key, {records.dumps_session(s): s.until for s in sessions})
                    pipe.pexpire(key, _ms(ttl))
                await pipe.execute()

    async def take_person_sessions(self, person: str) -> tuple[SessionEntry, ...]:
        with _guard("take_person_sessions"):
            members = await self._take_sessions(keys=[self._sessions_key(person)])
        return tuple(records.loads_session(m) for m in cast("list[str]", members))

    async def save_face_challenge(self, challenge: Challenge, *, ttl: float) -> None:
        await self._set(keys.face_challenge(challenge.id), records.dumps(challenge), ttl)

    async def take_face_challenge(self, challenge_id: str) -> Challenge | None:
        return records.loads(Challenge, await self._take(keys.face_challenge(challenge_id)))

    async def save_face_lock(self, lock: FaceLock, *, ttl: float) -> None:
        await self._set(keys.face_lock(lock.person, lock.day), records.dumps(lock), ttl)

    async def get_face_lock(self, person: str, day: str) -> FaceLock | None:
        return records.loads(FaceLock, await self._get(keys.face_lock(person, day)))

    # Replay guards and rate limits

    async def add_once(self, key: str, *, ttl: float) -> bool:
        with _guard("add_once"):
            added = await self._redis.set(self._key("o", key), "1", nx=True, px=_ms(ttl))
        return bool(added)

    async def hit(self, key: str, *, window: float) -> int:
        with _guard("hit"):
            count = await self._hit(keys=[self._key("h", key)], args=[_ms(window)])
        return int(count)

    def _queue_hit(self, pipe: Any, key: str, window: float) -> None:
        """`hit` in a pipeline: the same script, sent whole (EVAL: a pipeline handed the
        script object would first ask SCRIPT EXISTS, a round trip of its own, and a Cluster
        pipeline refuses EVALSHA, which a node that never loaded the script would not run)."""
        pipe.eval(self._hit.script, 1, self._key("h", key), _ms(window))

    # E-cards: every key of one person under the hash tag {person:P}

    def _card_key(self, person: str, card_no: str) -> str:
        return f"{self._prefix}card:{{person:{person}}}:{card_no}"

    async def issue_card(
        self, person: str, card: dict[str, Any], *, expected: str, now: float
    ) -> str:
        card_no = str(card["card_no"])
        keys = [
            self._card_key(person, "current"),
            self._card_key(person, card_no),
            self._card_key(person, expected or card_no),
        ]
        args: list[str | int | float] = [expected, _dumps(card), card_no, _ms(CARD_TTL), now]
        with _guard("issue_card"):
            # The index only helps lookups by number; written first, it is harmless if orphaned.
            await self._redis.set(self._key("cardidx", card_no), person, px=_ms(CARD_TTL))
            outcome = await self._issue_card(keys=keys, args=args)
        return str(outcome)

    async def get_card(self, card_no: str, *, person: str = "") -> dict[str, Any] | None:
        with _guard("get_card"):
            if not person:
                person = cast("str", await self._redis.get(self._key("cardidx", card_no)) or "")
                if not person:
                    return None
            raw = cast("str | None", await self._redis.get(self._card_key(person, card_no)))
        return _loads_value(raw)

    async def current_card(self, person: str) -> dict[str, Any] | None:
        with _guard("current_card"):
            card_no = cast("str | None", await self._redis.get(self._card_key(person, "current")))
        return await self.get_card(card_no, person=person) if card_no else None

    async def set_card_status(
        self,
        card_no: str,
        status: str,
        *,
        allowed: Collection[str],
        reason: str,
        now: float,
    ) -> dict[str, Any] | None:
        with _guard("set_card_status"):
            person = cast("str", await self._redis.get(self._key("cardidx", card_no)) or "")
            if not person:
                return None
            args: list[str | int | float] = [status, reason, now, _ms(CARD_TTL), *allowed]
            raw = await self._set_card_status(keys=[self._card_key(person, card_no)], args=args)
        return _loads_value(cast("str | None", raw))

    # Events

    def subscribe(self, ticket_id: str, *, maxsize: int = 16) -> LocalSubscription:
        return self._fanout.subscribe(ticket_id, maxsize)

    def listen(self, ticket_id: str, callback: Callable[[Event], None]) -> Listener:
        return self._fanout.listen(ticket_id, callback)

    def subscriber_count(self) -> int:
        return self._fanout.count()

    def _on_message(self, _channel: str, message: str) -> None:
        self._received += 1
        self._deliver_event(message)

    def _deliver_event(self, message: str) -> None:
        """An event from Redis for this process's listeners (those of its own commits it hands
        out itself: the script publishes to every holder but this process, and the reply on the
        command connection comes in commit order). A listener may get an older version after a
        newer one, from another process's commit still on its way: the WebSocket and the long
        poll drop it by version."""
        ticket_id, _, body = message.partition(" ")
        if not self._fanout.has(ticket_id):
            return
        try:
            event = fastjson.loads(body)
        except ValueError:
            log.warning("dropping a malformed event for ticket %s", ticket_id)
            return
        self._fanout.deliver(ticket_id, event)

    # Audit

    def _audit_entry(self, record: dict[str, Any]) -> tuple[str, str]:
        """The stream and the JSON of one audit record."""
        ticket = record.get("ticket")  # beside that ticket's transitions, in their order
        shard = self._layout.shard_of(ticket) if isinstance(ticket, str) else 0
        return self._layout.audit(shard), _dumps(record)

    async def audit(self, record: dict[str, Any]) -> None:
        stream, entry = self._audit_entry(record)
        with _guard("audit"):
            await self._redis.xadd(stream, {"r": entry}, maxlen=_AUDIT_MAXLEN, approximate=True)

    async def audit_records(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest `limit` records, oldest first (on a cluster: every shard's stream, merged
        by entry id)."""
        if limit <= 0:
            return []
        streams: list[list[tuple[str, dict[str, str]]]] = []
        with _guard("audit_records"):
            for shard in range(self._layout.shards):
                entries = cast(
                    "list[tuple[str, dict[str, str]]]",
                    await self._redis.xrevrange(self._layout.audit(shard), count=limit),
                )
                streams.append(entries)
        newest = heapq.merge(*streams, key=lambda e: _entry_order(e[0]), reverse=True)
        chosen = [entry for _, entry in zip(range(limit), newest, strict=False)]
        return [fastjson.loads(fields["r"]) for _, fields in reversed(chosen)]

    # Lifecycle

    async def ping(self) -> None:
        with _guard("ping"):
            await self._redis.ping()

    async def close(self) -> None:
        self._fanout.close_all()
        await self._events.close()
        await self._redis.aclose()
        if self._pubsub_pool is not None:
            await self._pubsub_pool.aclose()

    # ── Back-channel logout deliveries: one sorted set by due time and one hash of entries,
    # under one hash tag ({bcl}) so each script stays on one slot of a Redis Cluster ──────

    @property
    def _delivery_keys(self) -> list[str]:
        return [
            self._layout.tagged("bcl", "backchannel:due"),
            self._layout.tagged("bcl", "backchannel:entries"),
        ]

    @cached_property
    def _delivery_scripts(self) -> dict[str, Any]:
        names = ("schedule_delivery", "claim_deliveries", "finish_delivery")
        return {name: self._redis.register_script(_lua(f"{name}.lua")) for name in names}

    async def schedule_delivery(self, delivery: Delivery) -> None:
        args = [delivery.key, delivery.dumps(), repr(delivery.due)]
        with _guard("schedule_delivery"):
            await self._delivery_scripts["schedule_delivery"](keys=self._delivery_keys, args=args)

    async def claim_deliveries(
        self, now: float, *, lease: float, limit: int = 16
    ) -> list[Delivery]:
        if limit <= 0:
            return []
        args: list[str | int] = [repr(now), repr(now + lease), limit]
        with _guard("claim_deliveries"):
            flat = cast(
                "list[str]",
                await self._delivery_scripts["claim_deliveries"](
                    keys=self._delivery_keys, args=args
                ),
            )
        return [Delivery.loads(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def finish_delivery(self, claimed: Delivery, then: Delivery | None) -> bool:
        same_entry(claimed, then)
        args = [
            claimed.key,
            claimed.attempt + 1,
            then.dumps() if then else "",
            repr(then.due) if then else "",
        ]
        with _guard("finish_delivery"):
            done = await self._delivery_scripts["finish_delivery"](
                keys=self._delivery_keys, args=args
            )
        return bool(done)

    async def pending_deliveries(self) -> list[Delivery]:
        queue, entries = self._delivery_keys
        with _guard("pending_deliveries"):
            due = cast(
                "list[tuple[str, float]]",
                await self._redis.zrange(queue, 0, -1, withscores=True),
            )
            raws = cast(
                "list[str | None]",
                await self._redis.hmget(entries, [key for key, _ in due]) if due else [],
            )
        return [
            Delivery.loads(raw, score) for (_, score), raw in zip(due, raws, strict=True) if raw
        ]


def _entry_order(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


def _loads_value(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    value: dict[str, Any] = fastjson.loads(raw)
    return value
