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
from authsvc.core.tickets import Identity, Lifetimes, Ticket
from authsvc.store.fanout import RESYNC
from authsvc.store.redis import RedisStore

from .conftest import AnyStore, Lapse, connect_redis, new_prefix

LIFETIMES = Lifetimes()
NOW = 1_700_000_000.123456
DEVICE = "device-7f3a"
ACCOUNTS: list[Mapping[str, Any]] = [
    {"role": "legal_rep", "credit_code": "91110000600037341L", "name": "北京某某科技有限公司"},
    {"role": "personal", "credit_code": "", "name": "欧阳娜娜"},
]
WAIT = 5.0  # generous upper bound for an event that must arrive; never a speed assertion


def pending(ticket_id: str | None = None) -> Ticket:
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


def confirmed() -> Ticket:
    """A ticket that went all the way (number matching too): every field but `reason` is off
    its default."""
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
    t = tk.choose_account(t, device_id=DEVICE, key=tk.account_key(ACCOUNTS[0]), now=NOW + 3.5)
    t = tk.record_face_check(t, device_id=DEVICE, passed=False, now=NOW + 4.5, max_failures=3)
    t = tk.record_face_check(t, device_id=DEVICE, passed=True, now=NOW + 5.5, max_failures=3)
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


# Tickets


async def test_round_trip_preserves_every_field(store: AnyStore) -> None:
    """A stored ticket reads back equal, field for field, including nested and non-ASCII data."""
    samples = [pending(), confirmed(), rejected()]
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


async def test_replace_with_current_version_wins(store: AnyStore) -> None:
    """Replacing with the stored version writes the new ticket."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    new = scanned(ticket)
    assert await store.replace_ticket(new, expected_version=ticket.version, ttl=60) is True
    assert await store.get_ticket(ticket.id) == new


async def test_replace_with_stale_version_changes_nothing(store: AnyStore) -> None:
    """Replacing with a version that moved on returns False and leaves the ticket as it was."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    first = scanned(ticket, device_id="phone-a")
    assert await store.replace_ticket(first, expected_version=1, ttl=60)
    late = scanned(ticket, device_id="phone-b")
    assert await store.replace_ticket(late, expected_version=1, ttl=60) is False
    assert await store.get_ticket(ticket.id) == first


async def test_replace_of_missing_ticket_creates_nothing(store: AnyStore) -> None:
    """Replacing a ticket that does not exist returns False and does not create it."""
    ticket = pending()
    assert await store.replace_ticket(scanned(ticket), expected_version=1, ttl=60) is False
    assert await store.get_ticket(ticket.id) is None


async def test_replace_applies_the_new_ttl(store: AnyStore, lapse: Lapse) -> None:
    """A successful replace sets the ticket's TTL to the one given."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=0.5)
    assert await store.replace_ticket(scanned(ticket), expected_version=1, ttl=60)
    await lapse(0.8)
    assert await store.get_ticket(ticket.id) is not None


async def test_concurrent_replace_has_exactly_one_winner(store: AnyStore) -> None:
    """Of 20 concurrent replaces expecting the same version, exactly one wins and is stored."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    rivals = [scanned(ticket, device_id=f"phone-{n}") for n in range(20)]
    results = await asyncio.gather(
        *(store.replace_ticket(r, expected_version=1, ttl=60) for r in rivals)
    )
    assert results.count(True) == 1
    assert await store.get_ticket(ticket.id) == rivals[results.index(True)]


# Values


async def test_value_put_get_delete(store: AnyStore) -> None:
    """A value reads back equal (as a copy) until deleted."""
    value = {"sub": "u-1", "nested": {"list": [1, 2.5, None, True]}, "名字": "张三"}
    await store.put_value("code:1", value, ttl=60)
    got = await store.get_value("code:1")
    assert got == value
    assert got is not None
    got["sub"] = "changed"
    assert await store.get_value("code:1") == value
    await store.delete_value("code:1")
    assert await store.get_value("code:1") is None
    assert await store.get_value("never-written") is None


async def test_value_vanishes_after_ttl(store: AnyStore, lapse: Lapse) -> None:
    """A value is gone once its TTL has lapsed."""
    await store.put_value("short", {"a": 1}, ttl=0.2)
    await lapse(0.4)
    assert await store.get_value("short") is None


async def test_take_value_is_single_use(store: AnyStore) -> None:
    """take_value returns the value once, then None."""
    await store.put_value("code:2", {"n": 2}, ttl=60)
    assert await store.take_value("code:2") == {"n": 2}
    assert await store.take_value("code:2") is None
    assert await store.get_value("code:2") is None


async def test_concurrent_takers_exactly_one_gets_it(store: AnyStore) -> None:
    """Of 20 concurrent takers exactly one gets the value."""
    await store.put_value("code:3", {"n": 3}, ttl=60)
    taken = await asyncio.gather(*(store.take_value("code:3") for _ in range(20)))
    assert [t for t in taken if t is not None] == [{"n": 3}]


async def test_take_value_leaving_leaves_its_marker_atomically(store: AnyStore) -> None:
    """Of 20 concurrent takers one gets the value; every other one already finds the marker."""
    await store.put_value("code:{4}", {"n": 4}, ttl=60)  # one hash tag: one Cluster slot

    async def take() -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        taken = await store.take_value_leaving("code:{4}", "used:{4}", {"m": 4}, ttl=60)
        return taken, None if taken else await store.get_value("used:{4}")

    results = await asyncio.gather(*(take() for _ in range(20)))
    assert [t for t, _ in results if t is not None] == [{"n": 4}]
    assert all(marker == {"m": 4} for taken, marker in results if taken is None)
    assert await store.take_value_leaving("c:{n}", "used:{n}", {"m": 0}, ttl=60) is None
    assert await store.get_value("used:{n}") is None


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
    events = [{"n": n, "state": "scanned", "名": "张*"} for n in range(5)]
    for event in events:
        await store.publish("t-a", event)
    await store.publish("t-b", {"mine": True})
    for sub in (first, second):
        assert [await sub.get(timeout=WAIT) for _ in events] == events
    assert await other.get(timeout=WAIT) == {"mine": True}
    for sub in (first, second, other):
        sub.close()


async def test_subscribe_then_publish_never_misses(store: AnyStore) -> None:
    """An event published right after subscribe() returns is always delivered."""
    for n in range(50):
        sub = store.subscribe(f"race-{n}")
        await store.publish(f"race-{n}", {"n": n})
        assert await sub.get(timeout=WAIT) == {"n": n}
        sub.close()


async def test_closed_subscription_is_removed(store: AnyStore) -> None:
    """close() unregisters a subscription; it gets nothing more."""
    before = store.subscriber_count()
    sub = store.subscribe("t-c")
    keep = store.subscribe("t-c")
    assert store.subscriber_count() == before + 2
    sub.close()
    assert store.subscriber_count() == before + 1
    await store.publish("t-c", {"n": 1})
    assert await keep.get(timeout=WAIT) == {"n": 1}
    assert await sub.get(timeout=0.05) is None
    keep.close()


async def test_full_queue_resyncs_and_closes_only_that_subscription(store: AnyStore) -> None:
    """A subscriber that falls behind gets one resync marker and is closed; others carry on."""
    slow = store.subscribe("t-d", maxsize=2)
    fast = store.subscribe("t-d", maxsize=16)
    elsewhere = store.subscribe("t-e", maxsize=2)
    events = [{"n": n} for n in range(5)]
    for event in events:
        await store.publish("t-d", event)
    await store.publish("t-e", {"n": "e"})
    assert [await fast.get(timeout=WAIT) for _ in events] == events
    assert await elsewhere.get(timeout=WAIT) == {"n": "e"}

    async def drain() -> list[dict[str, Any]]:
        return [event async for event in slow]

    assert await asyncio.wait_for(drain(), WAIT) == [RESYNC]
    assert store.subscriber_count() == 2
    await store.publish("t-d", {"n": "after"})
    assert await fast.get(timeout=WAIT) == {"n": "after"}
    assert await slow.get(timeout=0.05) is None
    fast.close()
    elsewhere.close()


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
    await b.publish("shared", {"state": "scanned"})
    assert await on_a.get(timeout=WAIT) == {"state": "scanned"}
    assert await on_b.get(timeout=WAIT) == {"state": "scanned"}
    on_a.close()
    on_b.close()


@pytest.mark.redis
async def test_ticket_written_through_one_process_is_replaced_through_another(
    redis_pair: tuple[RedisStore, RedisStore],
) -> None:
    """A ticket created through A is CAS-replaced through B; a racing pair has one winner."""
    a, b = redis_pair
    ticket = pending()
    await a.create_ticket(ticket, ttl=60)
    new = scanned(ticket)
    assert await b.replace_ticket(new, expected_version=1, ttl=60)
    assert await a.get_ticket(ticket.id) == new
    assert await a.replace_ticket(scanned(ticket, "late"), expected_version=1, ttl=60) is False
    offered = [
        tk.offer_accounts(new, device_id=DEVICE, accounts=ACCOUNTS[:n], now=NOW + 2) for n in (1, 2)
    ]
    results = await asyncio.gather(
        a.replace_ticket(offered[0], expected_version=2, ttl=60),
        b.replace_ticket(offered[1], expected_version=2, ttl=60),
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
        await store.put_value("k", {"a": 1}, ttl=60)
        await store.add_once("k", ttl=60)
        await store.hit("k", window=60)
        await store.audit({"a": 1})
    finally:
        await store.close()
    keys = {key async for key in raw_redis.scan_iter(match=f"{redis_prefix}*")}
    expiring = {
        f"{redis_prefix}{kind}:{name}"
        for kind, name in [("t", ticket.id), ("v", "k"), ("o", "k"), ("h", "k")]
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
        killed = store.pubsub_client_id
        assert killed is not None
        assert await raw_redis.client_kill_filter(_id=str(killed)) == 1
        assert await sub.get(timeout=WAIT + 5) == RESYNC
        assert store.pubsub_client_id != killed
        await store.publish("t-r", {"n": 1})
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
            await store.publish("t", {"n": 1})
    finally:
        await store.close()
    with pytest.raises(errors.Unavailable):
        await RedisStore.connect("redis://127.0.0.1:1", prefix=new_prefix())


async def test_commit_transition_writes_publishes_and_audits_together(store: AnyStore) -> None:
    """A committed transition is stored, published to the ticket's subscribers and audited."""
    first = pending()
    await store.create_ticket(first, ttl=60)
    sub = store.subscribe(first.id)
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
