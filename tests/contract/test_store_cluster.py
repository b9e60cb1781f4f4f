"""RedisStore on a Redis Cluster (three masters, a replica each): a ticket's transition stays
on one slot, events use sharded pub/sub on one connection per master, and a failover or a slot
moved resubscribes and resyncs every listener."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from authsvc.store.base import NewCode
from authsvc.store.fanout import RESYNC, Event
from authsvc.store.keys import CLUSTER_SHARDS, KeyLayout, key_slot
from authsvc.store.records import secret_hash
from authsvc.store.redis import RedisStore
from tests.support.redis_cluster import RedisCluster

from .test_oidc_records import grant, marker
from .test_store import WAIT, pending, scanned

pytestmark = pytest.mark.redis


@pytest.fixture
async def clustered(redis_cluster: RedisCluster, redis_prefix: str) -> AsyncIterator[RedisStore]:
    store = await RedisStore.connect(redis_cluster.url, prefix=redis_prefix, cluster=True)
    try:
        yield store
    finally:
        await store.close()
        redis_cluster.purge(redis_prefix)


def test_a_tickets_keys_share_one_slot_and_shards_cover_every_master() -> None:
    """Ticket, its holders, its shard's event channels and audit stream hash to one slot; the
    shards' slots are spread over the slot space (each third holds about a third of them)."""
    layout = KeyLayout("qrauth:", CLUSTER_SHARDS)
    for ticket_id in ("a", "b", "some-long-ticket-id", "张"):
        shard = layout.shard_of(ticket_id)
        slots = {
            key_slot(layout.ticket(ticket_id)),
            key_slot(layout.holders(ticket_id)),
            key_slot(layout.channel(shard, "p1")),
            key_slot(layout.channel(shard, "p2")),
            key_slot(layout.audit(shard)),
        }
        assert len(slots) == 1
    thirds = [key_slot(c) * 3 // 16384 for c in layout.channels("p1")]
    assert sorted(set(thirds)) == [0, 1, 2]
    assert max(thirds.count(i) for i in range(3)) <= CLUSTER_SHARDS // 3 + 1
    with pytest.raises(ValueError, match="braces"):
        KeyLayout("{bad}:", CLUSTER_SHARDS)


async def test_one_subscriber_connection_per_master(clustered: RedisStore) -> None:
    """Three masters: three sharded-pub/sub connections, whatever the number of listeners."""
    listeners = [clustered.listen(f"t-{i}", lambda _e: None) for i in range(50)]
    assert clustered.event_connections == 3
    for listener in listeners:
        listener.close()


async def test_transitions_on_every_shard_reach_another_process(
    redis_cluster: RedisCluster, redis_prefix: str, clustered: RedisStore
) -> None:
    """Tickets landing on every shard: each committed transition (CAS + SPUBLISH + XADD in one
    script) reaches a listener in another process, and the audit merges every shard."""
    other = await RedisStore.connect(redis_cluster.url, prefix=redis_prefix, cluster=True)
    try:
        layout = clustered.layout
        ids: dict[int, str] = {}
        n = 0
        while len(ids) < layout.shards:
            ids.setdefault(layout.shard_of(f"tk-{n}"), f"tk-{n}")
            n += 1
        got: dict[str, list[Event]] = {tid: [] for tid in ids.values()}
        arrived = asyncio.Event()

        def on(tid: str) -> object:
            def cb(event: Event) -> None:
                got[tid].append(event)
                if all(got.values()):
                    arrived.set()

            return cb

        for tid in ids.values():
            await clustered.create_ticket(pending(tid), ttl=60)
        listeners = [other.listen(tid, on(tid)) for tid in ids.values()]  # type: ignore[arg-type]
        for tid in ids.values():  # subscribe, then read: the ticket's events now go to `other`
            assert await other.get_ticket(tid) == pending(tid)
        for tid in ids.values():
            ticket = pending(tid)
            assert await clustered.commit_transition(
                scanned(ticket),
                expected_version=1,
                ttl=60,
                event={"state": "scanned", "id": tid},
                audit={"event": "scan", "ticket": tid},
            )
        await asyncio.wait_for(arrived.wait(), WAIT)
        assert all(events == [{"state": "scanned", "id": tid}] for tid, events in got.items())
        assert (other.events_received, clustered.events_received) == (layout.shards, 0)
        audited = {r["ticket"] for r in await other.audit_records(1000)}
        assert audited == set(ids.values())
        for listener in listeners:
            listener.close()
    finally:
        await other.close()


async def test_failover_of_a_master_resyncs_listeners_and_events_flow_again(
    redis_cluster: RedisCluster, clustered: RedisStore
) -> None:
    """CLUSTER FAILOVER of the master serving a listener's shard: the listener is told to
    resync, the ticket is still there (the replica had it) and a later event arrives."""
    ticket = pending("failover-ticket")
    await clustered.create_ticket(ticket, ttl=60)
    layout = clustered.layout
    master = redis_cluster.master_of(key_slot(layout.ticket(ticket.id)))
    events: asyncio.Queue[Event] = asyncio.Queue()
    listener = clustered.listen(ticket.id, events.put_nowait)
    rebuilds = clustered.event_rebuilds
    await asyncio.to_thread(redis_cluster.failover, master)
    assert await asyncio.wait_for(events.get(), WAIT + 10) == RESYNC
    assert clustered.event_rebuilds > rebuilds
    assert await clustered.get_ticket(ticket.id) == ticket
    for _ in range(50):  # the slot map is refreshed by the first command that meets MOVED
        try:
            committed = await clustered.commit_transition(
                scanned(ticket), expected_version=1, ttl=60, event={"n": 1}, audit={"e": 1}
            )
            break
        except Exception:  # a 503 while the new master settles is allowed, not a lost event
            await asyncio.sleep(0.1)
    assert committed
    while (event := await asyncio.wait_for(events.get(), WAIT)) == RESYNC:
        pass
    assert event == {"n": 1}
    assert clustered.event_connections == 3
    listener.close()


async def test_a_moved_slot_resubscribes_and_resyncs(
    redis_cluster: RedisCluster, clustered: RedisStore
) -> None:
    """The slot of a listener's shard channel moves to another master: the old master's
    `sunsubscribe` makes the store resubscribe there and resync the listener; the ticket moved
    with its slot and the next transition reaches the listener from the new master."""
    ticket = pending("moving-ticket")
    await clustered.create_ticket(ticket, ttl=60)
    layout = clustered.layout
    slot = key_slot(layout.ticket(ticket.id))
    before = redis_cluster.master_of(slot)
    events: asyncio.Queue[Event] = asyncio.Queue()
    listener = clustered.listen(ticket.id, events.put_nowait)
    await asyncio.to_thread(lambda: redis_cluster.start_moving(slot).finish())
    assert redis_cluster.master_of(slot) is not before
    assert await asyncio.wait_for(events.get(), WAIT + 10) == RESYNC
    assert await clustered.get_ticket(ticket.id) == ticket
    assert await clustered.commit_transition(
        scanned(ticket), expected_version=1, ttl=60, event={"moved": True}, audit={"e": 1}
    )
    while (event := await asyncio.wait_for(events.get(), WAIT)) == RESYNC:
        pass
    assert event == {"moved": True}
    listener.close()


async def test_a_confirmations_code_is_stored_on_its_own_slot_and_only_if_it_commits(
    clustered: RedisStore,
) -> None:
    """The code's key hashes elsewhere than the ticket's, so it cannot join the commit's
    script: it is written first and taken back when the commit loses."""
    won, lost = pending("code-won"), pending("code-lost")
    for ticket in (won, lost):
        await clustered.create_ticket(ticket, ttl=60)
    codes = {t.id: NewCode(secret_hash(t.id), grant(ticket=t.id), ttl=60) for t in (won, lost)}
    assert await clustered.commit_transition(
        scanned(won), expected_version=1, ttl=60, event={}, audit={}, code=codes[won.id]
    )
    assert not await clustered.commit_transition(
        scanned(lost), expected_version=2, ttl=60, event={}, audit={}, code=codes[lost.id]
    )
    assert await clustered.redeem_code(codes[won.id].code_hash, marker(), ttl=60) is not None
    assert await clustered.redeem_code(codes[lost.id].code_hash, marker(), ttl=60) is None
    assert await clustered.get_ticket(lost.id) == lost
