"""The Store contract (authsvc/store/base.py), against every backend."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from redis.asyncio import Redis

from authsvc import errors
from authsvc.core import tickets as tk
from authsvc.core.face import Challenge, new_challenge
from authsvc.core.tickets import Identity, Lifetimes, Ticket
from authsvc.store.base import NewCode
from authsvc.store.fanout import RESYNC
from authsvc.store.records import FaceLock, secret_hash
from authsvc.store.redis import RedisStore

from .conftest import AnyStore, Lapse, connect_redis, new_prefix
from .test_oidc_records import grant, marker

LIFETIMES = Lifetimes()
NOW = 1_700_000_000.123456
DEVICE = "device-7f3a"
ACCOUNTS: list[Mapping[str, Any]] = [
    {"role": "legal_rep", "credit_code": "91110000600037341L", "name": "北京某某科技有限公司"},
    {"role": "personal", "credit_code": "", "name": "欧阳娜娜"},
]
WAIT = 5.0  # generous upper bound for an event that must arrive; never a speed assertion


def pending(ticket_id: str | None = None) -> Ticket:
    return tk.with_qr(_created(ticket_id), "Kx2b0ZlYVd0s3m1n7Qc8yJ9pR4tU6wE1aH5gF3dL0oI")


def _created(ticket_id: str | None) -> Ticket:
    return tk.create(
        client_id="service-hall",
        identity=Identity.LEGAL_REP,
        browser_ip="203.0.113.7",
        browser_ua="Mozilla/5.0 (X11; Linux x86_64) 浏览器/1.0",
        browser_secret="browser-secret",
        now=NOW,
        lifetimes=LIFETIMES,
        request={"redirect_uri": "https://hall.example/cb", "state": "s-1", "scope": ["openid"]},
        ticket_id=ticket_id,
    )


def scanned(ticket: Ticket, device_id: str = DEVICE) -> Ticket:
    subject = {"name": "欧阳娜娜", "id_hash": "9f86d081884c7d65", "card": {"status": "active"}}
    return tk.scan(
        ticket, device_id=device_id, subject=subject, now=NOW + 1.25, lifetimes=LIFETIMES
    )


def face_challenge() -> Challenge:
    return new_challenge(purpose="ticket:t", person="p", device=DEVICE, now=NOW + 3, ttl=120)


def facing(ticket: Ticket) -> Ticket:
    """`ticket` with its first account chosen and a face challenge to answer."""
    key = tk.account_key(ACCOUNTS[0])
    return tk.choose_account(
        ticket, device_id=DEVICE, key=key, now=NOW + 3.5, challenge=face_challenge()
    )


def _challenge_id(ticket: Ticket) -> str:
    assert ticket.face_challenge is not None
    return ticket.face_challenge.id


def confirmed() -> Ticket:
    """A ticket that went all the way (number matching too): every field but `reason` and
    `face_challenge` (used up) is off its default."""
    t = tk.scan(
        pending(),
        device_id=DEVICE,
        subject={"name": "欧阳娜娜"},
        now=NOW + 1.25,
        lifetimes=LIFETIMES,
        challenge=("47", ("12", "47", "83")),
    )
    t = tk.match_number(t, device_id=DEVICE, picked="47", now=NOW + 2.0)
    t = tk.offer_accounts(t, device_id=DEVICE, accounts=ACCOUNTS, now=NOW + 2.5)
    t = facing(t)
    t = tk.record_face_check(
        t, device_id=DEVICE, challenge_id=_challenge_id(t), passed=False, now=NOW + 4.5,
        max_failures=3,
    )  # fmt: skip
    t = tk.issue_face_challenge(t, device_id=DEVICE, challenge=face_challenge(), now=NOW + 5)
    t = tk.record_face_check(
        t, device_id=DEVICE, challenge_id=_challenge_id(t), passed=True, now=NOW + 5.5,
        max_failures=3,
    )  # fmt: skip
    return tk.confirm(
        t,
        device_id=DEVICE,
        redirect="https://hall.example/cb?code=c0de&state=s-1",
        now=NOW + 6.5,
        lifetimes=LIFETIMES,
    )


def rejected() -> Ticket:
    return tk.reject(scanned(pending()), device_id=DEVICE, now=NOW + 7.5, reason="user_rejected")


def off_default(ticket: Ticket) -> set[str]:
    """Names of the fields that differ from their dataclass default (or have none)."""
    names = set()
    for field in dataclasses.fields(Ticket):
        if field.default is not dataclasses.MISSING:
            default: Any = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            names.add(field.name)
            continue
        if getattr(ticket, field.name) != default:
            names.add(field.name)
    return names


async def commit(store: AnyStore, new: Ticket, expected_version: int, ttl: float = 60) -> bool:
    """A transition with a plain event and audit record (what Broker.apply writes)."""
    event = {"ticket": new.id, "version": new.version}
    audit = {"ticket": new.id, "outcome": str(new.state), "version": new.version}
    return await store.commit_transition(
        new, expected_version=expected_version, ttl=ttl, event=event, audit=audit
    )


async def emit(store: AnyStore, ticket_id: str, event: dict[str, Any]) -> None:
    """Publish `event` to the ticket's subscribers the one way production does: a committed
    transition (the ticket is created first if need be)."""
    current = await store.get_ticket(ticket_id)
    if current is None:
        current = pending(ticket_id)
        await store.create_ticket(current, ttl=60)
    new = dataclasses.replace(current, version=current.version + 1)
    assert await store.commit_transition(
        new, expected_version=current.version, ttl=60, event=event, audit={"ticket": ticket_id}
    )


async def read_after_subscribing(store: AnyStore, *ticket_ids: str) -> None:
    """What a listener does after subscribing: read its ticket (creating it here if need be).
    On Redis that read is what routes the ticket's events to this process."""
    for ticket_id in ticket_ids:
        if await store.get_ticket(ticket_id) is None:
            await store.create_ticket(pending(ticket_id), ttl=60)
            assert await store.get_ticket(ticket_id) is not None


# Tickets


async def test_round_trip_preserves_every_field(store: AnyStore) -> None:
    """A stored ticket reads back equal, field for field, including nested and non-ASCII data."""
    offered = tk.offer_accounts(scanned(pending()), device_id=DEVICE, accounts=ACCOUNTS, now=NOW)
    samples = [pending(), confirmed(), rejected(), facing(offered)]
    assert set().union(*map(off_default, samples)) == {f.name for f in dataclasses.fields(Ticket)}
    for ticket in samples:
        await store.create_ticket(ticket, ttl=60)
        assert await store.get_ticket(ticket.id) == ticket


async def test_unknown_ticket_is_none(store: AnyStore) -> None:
    """A ticket that was never written reads as None."""
    assert await store.get_ticket("no-such-ticket") is None


async def test_ticket_vanishes_after_ttl(store: AnyStore, lapse: Lapse) -> None:
    """A ticket is gone once its store TTL has lapsed."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=0.2)
    await lapse(0.4)
    assert await store.get_ticket(ticket.id) is None


async def test_commit_with_current_version_wins(store: AnyStore) -> None:
    """Committing with the stored version writes the new ticket."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    new = scanned(ticket)
    assert await commit(store, new, ticket.version) is True
    assert await store.get_ticket(ticket.id) == new


async def test_commit_with_stale_version_changes_nothing(store: AnyStore) -> None:
    """Committing with a version that moved on returns False and leaves the ticket as it was."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    first = scanned(ticket, device_id="phone-a")
    assert await commit(store, first, 1)
    late = scanned(ticket, device_id="phone-b")
    assert await commit(store, late, 1) is False
    assert await store.get_ticket(ticket.id) == first


async def test_commit_of_missing_ticket_creates_nothing(store: AnyStore) -> None:
    """Committing to a ticket that does not exist returns False and creates, publishes and
    audits nothing."""
    ticket = pending()
    sub = store.subscribe(ticket.id)
    assert await commit(store, scanned(ticket), 1) is False
    assert await store.get_ticket(ticket.id) is None
    assert await sub.get(timeout=0.2) is None
    assert await store.audit_records(1000) == []
    sub.close()


async def test_commit_applies_the_new_ttl(store: AnyStore, lapse: Lapse) -> None:
    """A successful commit sets the ticket's TTL to the one given."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=0.5)
    assert await commit(store, scanned(ticket), 1)
    await lapse(0.8)
    assert await store.get_ticket(ticket.id) is not None


async def test_concurrent_commits_have_exactly_one_winner_one_event_one_audit(
    store: AnyStore,
) -> None:
    """Of 20 concurrent commits expecting the same version exactly one wins: it is stored, and
    it alone is published (one event) and audited (one record)."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    sub = store.subscribe(ticket.id, maxsize=32)
    events: list[dict[str, Any]] = []
    listener = store.listen(ticket.id, events.append)
    await read_after_subscribing(store, ticket.id)
    rivals = [scanned(ticket, device_id=f"phone-{n}") for n in range(20)]
    results = await asyncio.gather(
        *(
            store.commit_transition(
                r,
                expected_version=1,
                ttl=60,
                event={"device": r.device_id},
                audit={"ticket": ticket.id, "device": r.device_id},
            )
            for r in rivals
        )
    )
    assert results.count(True) == 1
    winner = rivals[results.index(True)]
    assert await store.get_ticket(ticket.id) == winner
    assert await sub.get(timeout=WAIT) == {"device": winner.device_id}
    assert await sub.get(timeout=0.3) is None
    assert events == [{"device": winner.device_id}]
    assert await store.audit_records(1000) == [{"ticket": ticket.id, "device": winner.device_id}]
    sub.close()
    listener.close()


# Replay guards and rate limits


async def test_add_once(store: AnyStore, lapse: Lapse) -> None:
    """add_once is True the first time within the TTL, False after, True again once it lapses."""
    assert await store.add_once("nonce:a", ttl=0.5) is True
    assert await store.add_once("nonce:a", ttl=0.5) is False
    assert await store.add_once("nonce:b", ttl=0.5) is True
    await lapse(0.8)
    assert await store.add_once("nonce:a", ttl=0.5) is True


async def test_hit_counts_within_a_window_and_resets_after(store: AnyStore, lapse: Lapse) -> None:
    """hit counts per key within a fixed window and starts again at 1 after it."""
    assert [await store.hit("ip:1", window=0.5) for _ in range(3)] == [1, 2, 3]
    assert await store.hit("ip:2", window=0.5) == 1
    await lapse(0.8)
    assert await store.hit("ip:1", window=0.5) == 1


# Events


async def test_publish_reaches_only_that_tickets_subscribers_in_order(store: AnyStore) -> None:
    """Every subscriber of a ticket gets its events in order; other tickets' get none of them."""
    first, second = store.subscribe("t-a"), store.subscribe("t-a")
    other = store.subscribe("t-b")
    await read_after_subscribing(store, "t-a", "t-b")
    events = [{"n": n, "state": "scanned", "名": "张*"} for n in range(5)]
    for event in events:
        await emit(store, "t-a", event)
    await emit(store, "t-b", {"mine": True})
    for sub in (first, second):
        assert [await sub.get(timeout=WAIT) for _ in events] == events
    assert await other.get(timeout=WAIT) == {"mine": True}
    for sub in (first, second, other):
        sub.close()


async def test_subscribe_then_publish_never_misses(store: AnyStore) -> None:
    """An event published right after subscribe() returns is always delivered."""
    for n in range(50):
        ticket = pending(f"race-{n}")
        await store.create_ticket(ticket, ttl=60)
        sub = store.subscribe(ticket.id)
        await emit(store, ticket.id, {"n": n})
        assert await sub.get(timeout=WAIT) == {"n": n}
        sub.close()


async def test_closed_subscription_is_removed(store: AnyStore) -> None:
    """close() unregisters a subscription; it gets nothing more."""
    await store.create_ticket(pending("t-c"), ttl=60)
    before = store.subscriber_count()
    sub = store.subscribe("t-c")
    keep = store.subscribe("t-c")
    assert store.subscriber_count() == before + 2
    sub.close()
    assert store.subscriber_count() == before + 1
    await emit(store, "t-c", {"n": 1})
    assert await keep.get(timeout=WAIT) == {"n": 1}
    assert await sub.get(timeout=0.05) is None
    keep.close()


async def test_full_queue_resyncs_and_closes_only_that_subscription(store: AnyStore) -> None:
    """A subscriber that falls behind gets one resync marker and is closed; others carry on."""
    slow = store.subscribe("t-d", maxsize=2)
    fast = store.subscribe("t-d", maxsize=16)
    elsewhere = store.subscribe("t-e", maxsize=2)
    await read_after_subscribing(store, "t-d", "t-e")
    events = [{"n": n} for n in range(5)]
    for event in events:
        await emit(store, "t-d", event)
    await emit(store, "t-e", {"n": "e"})
    assert [await fast.get(timeout=WAIT) for _ in events] == events
    assert await elsewhere.get(timeout=WAIT) == {"n": "e"}

    async def drain() -> list[dict[str, Any]]:
        return [event async for event in slow]

    assert await asyncio.wait_for(drain(), WAIT) == [RESYNC]
    assert store.subscriber_count() == 2
    await emit(store, "t-d", {"n": "after"})
    assert await fast.get(timeout=WAIT) == {"n": "after"}
    assert await slow.get(timeout=0.05) is None
    fast.close()
    elsewhere.close()


class Collected:
    """A `listen` callback that keeps what it was given and lets a test wait for a count."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._changed.set()

    async def at_least(self, count: int) -> list[dict[str, Any]]:
        async def wait() -> None:
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), WAIT)
        return self.events


async def test_listen_then_commit_never_misses(store: AnyStore) -> None:
    """Subscribe-then-read: a transition committed right after listen() returns is delivered
    to the callback, whatever the ticket's shard."""
    for n in range(30):
        ticket = pending(f"listen-{n}")
        await store.create_ticket(ticket, ttl=60)
        got = Collected()
        listener = store.listen(ticket.id, got)
        await read_after_subscribing(store, ticket.id)
        assert await commit(store, scanned(ticket), ticket.version)
        assert await got.at_least(1) == [{"ticket": ticket.id, "version": 2}]
        listener.close()


async def test_listen_loses_no_event_across_rapid_commits(store: AnyStore) -> None:
    """20 commits in a row on each of 8 tickets, all at once: every listener gets each of its
    ticket's events once, in order, and nothing of the others'."""
    ids = [f"rapid-{n}" for n in range(8)]
    listeners = {ticket_id: Collected() for ticket_id in ids}
    handles = [store.listen(ticket_id, got) for ticket_id, got in listeners.items()]
    await read_after_subscribing(store, *ids)

    async def burst(ticket_id: str) -> None:
        for n in range(20):
            await emit(store, ticket_id, {"ticket": ticket_id, "n": n})

    await asyncio.gather(*(burst(ticket_id) for ticket_id in ids))
    for ticket_id, got in listeners.items():
        assert await got.at_least(20) == [{"ticket": ticket_id, "n": n} for n in range(20)]
    await asyncio.sleep(0.1)  # anything extra would have arrived by now
    assert all(len(got.events) == 20 for got in listeners.values())
    for handle in handles:
        handle.close()


async def test_closed_listener_gets_nothing_more(store: AnyStore) -> None:
    """close() unregisters a listener: a later commit reaches the others, not it."""
    await store.create_ticket(pending("t-l"), ttl=60)
    gone, kept = Collected(), Collected()
    first = store.listen("t-l", gone)
    second = store.listen("t-l", kept)
    first.close()
    await emit(store, "t-l", {"n": 1})
    assert await kept.at_least(1) == [{"n": 1}]
    assert gone.events == []
    second.close()


async def _kill_event_connection(store: RedisStore, raw_redis: Redis) -> None:
    """Cut the store's (first) subscriber connection from the server side: CLIENT KILL."""
    if not store.layout.clustered:
        killed = store.pubsub_client_id
        assert killed is not None
        assert await raw_redis.client_kill_filter(_id=str(killed)) == 1
        return
    conn: Any = store._events._conns[0]
    host, port = conn._writer.get_extra_info("sockname")[:2]
    node = Redis(host=conn.host, port=conn.port, protocol=2)
    try:
        assert await node.client_kill(f"{host}:{port}")
    finally:
        await node.aclose()


@pytest.mark.redis
async def test_listener_gets_resync_after_reconnect_then_events_again(
    redis_store: RedisStore, raw_redis: Redis
) -> None:
    """When a subscriber connection is killed, every listener is told `{"resync": True}` once
    the store has resubscribed, and a later commit reaches it again."""
    await redis_store.create_ticket(pending("t-rs"), ttl=60)
    got = Collected()
    listener = redis_store.listen("t-rs", got)
    rebuilds = redis_store.event_rebuilds
    await _kill_event_connection(redis_store, raw_redis)
    assert await got.at_least(1) == [RESYNC]
    assert redis_store.event_rebuilds == rebuilds + 1
    await emit(redis_store, "t-rs", {"n": "after"})
    assert await got.at_least(2) == [RESYNC, {"n": "after"}]
    listener.close()


# Audit and health


async def test_audit_returns_newest_records_oldest_first(store: AnyStore) -> None:
    """audit_records(limit) gives the newest `limit` records, oldest first, as written."""
    records = [{"event": "login", "n": n, "who": "张三", "ok": n % 2 == 0} for n in range(6)]
    for record in records:
        await store.audit(record)
    assert await store.audit_records(3) == records[-3:]
    assert await store.audit_records() == records


async def test_ping(store: AnyStore) -> None:
    """ping succeeds against a reachable backend."""
    await store.ping()


# Redis only: several processes on one Redis, and a Redis that is gone


@pytest.mark.redis
async def test_event_published_through_one_process_reaches_another(
    redis_pair: tuple[RedisStore, RedisStore],
) -> None:
    """An event published through store B reaches a subscriber on store A (and B's own)."""
    a, b = redis_pair
    on_a, on_b = a.subscribe("shared"), b.subscribe("shared")
    await read_after_subscribing(a, "shared")
    await read_after_subscribing(b, "shared")
    received_a, received_b = a.events_received, b.events_received
    await emit(b, "shared", {"state": "scanned"})
    assert await on_a.get(timeout=WAIT) == {"state": "scanned"}
    assert await on_b.get(timeout=WAIT) == {"state": "scanned"}
    # A's came through Redis; B's own was handed out by B as its commit returned.
    assert (a.events_received, b.events_received) == (received_a + 1, received_b)
    on_a.close()
    on_b.close()


async def test_a_commit_without_an_event_tells_no_subscriber(store: AnyStore) -> None:
    """A change the browser does not see (event None) is written and audited, and published
    to nobody; the next event still arrives, in order."""
    sub = store.subscribe("quiet")
    await read_after_subscribing(store, "quiet")
    current = await store.get_ticket("quiet")
    assert current is not None
    new = dataclasses.replace(current, version=current.version + 1)
    audit = {"ticket": "quiet", "outcome": "silent"}
    assert await store.commit_transition(
        new, expected_version=current.version, ttl=60, event=None, audit=audit
    )
    assert await store.get_ticket("quiet") == new
    assert (await store.audit_records(1))[-1]["outcome"] == "silent"
    await emit(store, "quiet", {"state": "scanned"})
    assert await sub.get(timeout=WAIT) == {"state": "scanned"}  # the silent one never came
    sub.close()


@pytest.mark.redis
async def test_a_silent_commit_reaches_no_other_process(
    redis_pair: tuple[RedisStore, RedisStore],
) -> None:
    """Through store B, a commit without an event publishes nothing to store A's listener."""
    a, b = redis_pair
    on_a = a.subscribe("hushed")
    await read_after_subscribing(a, "hushed")
    current = await b.get_ticket("hushed")
    assert current is not None
    received = a.events_received
    new = dataclasses.replace(current, version=current.version + 1)
    assert await b.commit_transition(
        new, expected_version=current.version, ttl=60, event=None, audit={"ticket": "hushed"}
    )
    await emit(b, "hushed", {"state": "confirmed"})
    assert await on_a.get(timeout=WAIT) == {"state": "confirmed"}
    assert a.events_received == received + 1
    on_a.close()


@pytest.mark.redis
async def test_a_process_receives_only_the_events_of_the_tickets_it_listens_to(
    redis_pair: tuple[RedisStore, RedisStore],
) -> None:
    """Events are routed to the processes holding the ticket's listeners: A's transitions of
    its own ticket reach A's listener without a message through Redis (A hands them out
    itself) and never reach B's connection; B's ticket's event reaches B, not A."""
    a, b = redis_pair
    on_a, on_b = a.subscribe("theirs"), b.subscribe("mine")
    await read_after_subscribing(a, "theirs")
    await read_after_subscribing(b, "mine")
    received_a, received_b = a.events_received, b.events_received
    for n in range(5):
        await emit(a, "theirs", {"n": n})
    assert [await on_a.get(timeout=WAIT) for _ in range(5)] == [{"n": n} for n in range(5)]
    await emit(a, "mine", {"n": "mine"})
    assert await on_b.get(timeout=WAIT) == {"n": "mine"}
    await asyncio.sleep(0.1)  # anything misrouted would have arrived by now
    assert (a.events_received, b.events_received) == (received_a, received_b + 1)
    on_a.close()
    on_b.close()


@pytest.mark.redis
async def test_reading_a_missing_ticket_while_listening_registers_nothing(
    redis_prefix: str, raw_redis: Redis
) -> None:
    """A listener on a ticket that does not exist (a guessed id) leaves no key behind; one on
    a ticket that does is among its holders for as long as the ticket lives."""
    store = await connect_redis(redis_prefix)
    try:
        ticket = pending()
        await store.create_ticket(ticket, ttl=60)
        guessed, held = store.subscribe("no-such-ticket"), store.subscribe(ticket.id)
        assert await store.get_ticket("no-such-ticket") is None
        assert await store.get_ticket(ticket.id) == ticket
        guessed.close()
        held.close()
    finally:
        await store.close()
    keys = {key async for key in raw_redis.scan_iter(match=f"{redis_prefix}*")}
    holders = f"{redis_prefix}th:{ticket.id}"
    assert keys == {f"{redis_prefix}t:{ticket.id}", holders}
    assert await raw_redis.scard(holders) == 1
    async with raw_redis.pipeline(transaction=True) as pipe:  # both TTLs at one instant
        holders_ttl, ticket_ttl = (
            await pipe.pttl(holders).pttl(f"{redis_prefix}t:{ticket.id}").execute()
        )
    assert 0 < holders_ttl <= ticket_ttl


@pytest.mark.redis
async def test_ticket_written_through_one_process_is_replaced_through_another(
    redis_pair: tuple[RedisStore, RedisStore],
) -> None:
    """A ticket created through A is committed through B; a racing pair has one winner."""
    a, b = redis_pair
    ticket = pending()
    await a.create_ticket(ticket, ttl=60)
    new = scanned(ticket)
    assert await commit(b, new, 1)
    assert await a.get_ticket(ticket.id) == new
    assert await commit(a, scanned(ticket, "late"), 1) is False
    offered = [
        tk.offer_accounts(new, device_id=DEVICE, accounts=ACCOUNTS[:n], now=NOW + 2) for n in (1, 2)
    ]
    results = await asyncio.gather(
        commit(a, offered[0], 2),
        commit(b, offered[1], 2),
    )
    assert sorted(results) == [False, True]
    assert await b.get_ticket(ticket.id) == offered[results.index(True)]


@pytest.mark.redis
async def test_keys_live_under_the_prefix_with_ttls(redis_prefix: str, raw_redis: Redis) -> None:
    """Every key the store writes is under its prefix, and all but the audit stream expire."""
    store = await connect_redis(redis_prefix)
    try:
        ticket = pending()
        await store.create_ticket(ticket, ttl=60)
        await store.save_face_lock(FaceLock(person="p", day="d"), ttl=60)
        await store.add_once("k", ttl=60)
        await store.hit("k", window=60)
        await store.audit({"a": 1})
    finally:
        await store.close()
    keys = {key async for key in raw_redis.scan_iter(match=f"{redis_prefix}*")}
    expiring = {
        f"{redis_prefix}{kind}:{name}"
        for kind, name in [("t", ticket.id), ("v", "face-locked:p:d"), ("o", "k"), ("h", "k")]
    }
    assert keys == expiring | {f"{redis_prefix}audit"}
    for key in expiring:
        assert 0 < await raw_redis.pttl(key) <= 60_000


@pytest.mark.redis
async def test_event_reader_reconnects_and_resyncs(redis_prefix: str, raw_redis: Redis) -> None:
    """When the pub/sub connection is killed, subscribers get a resync and events flow again."""
    store = await connect_redis(redis_prefix)
    try:
        sub = store.subscribe("t-r")
        await read_after_subscribing(store, "t-r")
        killed = store.pubsub_client_id
        assert killed is not None
        assert await raw_redis.client_kill_filter(_id=str(killed)) == 1
        assert await sub.get(timeout=WAIT + 5) == RESYNC
        assert store.pubsub_client_id != killed
        await emit(store, "t-r", {"n": 1})
        assert await sub.get(timeout=WAIT) == {"n": 1}
        sub.close()
    finally:
        await store.close()


@pytest.mark.redis
async def test_unreachable_redis_is_unavailable() -> None:
    """With nothing listening, ping() and every call raise errors.Unavailable, as does connect()."""
    store = RedisStore("redis://127.0.0.1:1", prefix=new_prefix())
    try:
        with pytest.raises(errors.Unavailable):
            await store.ping()
        with pytest.raises(errors.Unavailable):
            await store.get_ticket("t")
        with pytest.raises(errors.Unavailable):
            await commit(store, pending(), 1)
    finally:
        await store.close()
    with pytest.raises(errors.Unavailable):
        await RedisStore.connect("redis://127.0.0.1:1", prefix=new_prefix())


async def test_commit_transition_writes_publishes_and_audits_together(store: AnyStore) -> None:
    """A committed transition is stored, published to the ticket's subscribers and audited."""
    first = pending()
    await store.create_ticket(first, ttl=60)
    sub = store.subscribe(first.id)
    await read_after_subscribing(store, first.id)
    new = scanned(first)
    event = {"ticket": first.id, "state": "scanned", "version": new.version}
    assert await store.commit_transition(
        new,
        expected_version=first.version,
        ttl=60,
        event=event,
        audit={"outcome": "scanned", "t": first.id},
    )
    assert await store.get_ticket(first.id) == new
    assert await sub.get(timeout=WAIT) == event
    assert (await store.audit_records(1))[-1] == {"outcome": "scanned", "t": first.id}
    sub.close()


async def test_stale_commit_transition_publishes_and_audits_nothing(store: AnyStore) -> None:
    """A transition that lost the race leaves no ticket change, no event, no audit record."""
    first = pending()
    await store.create_ticket(first, ttl=60)
    sub = store.subscribe(first.id)
    await read_after_subscribing(store, first.id)
    before = await store.audit_records(1000)
    assert not await store.commit_transition(
        scanned(first),
        expected_version=first.version + 1,
        ttl=60,
        event={"x": 1},
        audit={"outcome": "lost"},
    )
    assert await store.get_ticket(first.id) == first
    assert await sub.get(timeout=0.3) is None
    assert await store.audit_records(1000) == before
    sub.close()


async def test_a_confirmation_stores_its_code_with_it(store: AnyStore) -> None:
    """The code given with a transition is there once the transition has committed (its event
    names it to the browser), and can be redeemed once."""
    first = pending()
    await store.create_ticket(first, ttl=60)
    new = dataclasses.replace(scanned(first), state=tk.State.CONFIRMED)
    code = NewCode(secret_hash("code-a"), grant(ticket=first.id), ttl=60)
    assert await store.commit_transition(
        new, expected_version=first.version, ttl=60, event={}, audit={}, code=code
    )
    assert await store.redeem_code(code.code_hash, marker(), ttl=60) == code.grant
    assert await store.redeem_code(code.code_hash, marker(), ttl=60) is None


async def test_a_confirmation_that_loses_the_race_leaves_no_code(store: AnyStore) -> None:
    """A stale commit writes neither the ticket nor the code: nobody can redeem it."""
    first = pending()
    await store.create_ticket(first, ttl=60)
    before = await store.audit_records(1000)
    code = NewCode(secret_hash("code-b"), grant(ticket=first.id), ttl=60)
    assert not await store.commit_transition(
        scanned(first), expected_version=first.version + 1, ttl=60, event={}, audit={}, code=code
    )
    assert await store.get_ticket(first.id) == first
    assert await store.redeem_code(code.code_hash, marker(), ttl=60) is None
    assert await store.audit_records(1000) == before
