"""The back-channel logout delivery queue of the Store contract, on every backend: nothing is
claimed before it is due, each due attempt goes to exactly one claimer however many race for
it, a claim leaves the next attempt behind, a stale claimer changes nothing, and attempts are
bounded (the service's retry loop over each backend gives up after the configured delays)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from authsvc.core.clock import FrozenClock
from authsvc.services.logout import deliver_due, end_session
from authsvc.store.deliveries import Delivery
from authsvc.store.redis import RedisStore
from authsvc.store.sqlite import EmbeddedStore
from tests.support.servers import free_port, running_authsvc

from .conftest import AnyStore

NOW = 1_800_000_000.25
LEASE = 60.0


def delivery(n: int = 0, *, attempt: int = 2, due: float = NOW) -> Delivery:
    return Delivery(f"rp-{n % 3}", f"sub-张-{n}", f"sid-{n}", attempt, due)


async def test_nothing_is_claimed_before_it_is_due(store: AnyStore) -> None:
    """An entry due at T is not handed out at T - 0.001, and is at T, as it was queued."""
    queued = delivery(due=NOW + 4.0)
    await store.schedule_delivery(queued)
    assert await store.claim_deliveries(NOW + 3.999, lease=LEASE) == []
    assert await store.pending_deliveries() == [queued]
    assert await store.claim_deliveries(NOW + 4.0, lease=LEASE) == [queued]


async def test_a_claim_leaves_the_next_attempt_behind(store: AnyStore) -> None:
    """Claimed at `now`: the entry is now the next attempt, due a lease later; it is not handed
    out again before then (a claimer that died is replaced by the next attempt, never the same)."""
    await store.schedule_delivery(delivery())
    (claimed,) = await store.claim_deliveries(NOW, lease=LEASE)
    assert await store.pending_deliveries() == [replace(claimed, attempt=3, due=NOW + LEASE)]
    assert await store.claim_deliveries(NOW + LEASE - 0.5, lease=LEASE) == []
    (again,) = await store.claim_deliveries(NOW + LEASE, lease=LEASE)
    assert again.attempt == 3


async def test_claims_come_earliest_first_and_at_most_limit(store: AnyStore) -> None:
    """Five due entries, a limit of two: the two earliest."""
    for n in range(5):
        await store.schedule_delivery(delivery(n, due=NOW - n))
    claimed = await store.claim_deliveries(NOW, lease=LEASE, limit=2)
    assert [d.sid for d in claimed] == ["sid-4", "sid-3"]
    assert await store.claim_deliveries(NOW, lease=LEASE, limit=0) == []


async def test_racing_claimers_each_get_distinct_attempts(store: AnyStore) -> None:
    """Thirty due entries, twelve concurrent claimers: every entry is claimed exactly once."""
    for n in range(30):
        await store.schedule_delivery(delivery(n))
    rounds = await asyncio.gather(
        *(store.claim_deliveries(NOW, lease=LEASE, limit=4) for _ in range(12))
    )
    claimed = [d.key for batch in rounds for d in batch]
    assert len(claimed) == 30 and len(set(claimed)) == 30
    assert await store.claim_deliveries(NOW, lease=LEASE) == []


async def test_two_processes_never_claim_the_same_attempt(
    redis_pair: tuple[RedisStore, RedisStore],
) -> None:
    """Two RedisStores on one prefix (two processes) racing over the same due entries."""
    one, two = redis_pair
    for n in range(20):
        await one.schedule_delivery(delivery(n))
    rounds = await asyncio.gather(
        *(s.claim_deliveries(NOW, lease=LEASE, limit=3) for s in (one, two) * 6)
    )
    claimed = [(d.key, d.attempt) for batch in rounds for d in batch]
    assert len(claimed) == 20 and len(set(claimed)) == 20
    assert {d.attempt for d in await two.pending_deliveries()} == {3}


async def test_finishing_a_claim_replaces_or_removes_its_entry(store: AnyStore) -> None:
    """`then` takes the claimed entry's place; None removes it for good."""
    await store.schedule_delivery(delivery(1))
    await store.schedule_delivery(delivery(2))
    first, second = await store.claim_deliveries(NOW, lease=LEASE)
    retry = replace(first, attempt=3, due=NOW + 15.0)
    assert await store.finish_delivery(first, retry) is True
    assert await store.finish_delivery(second, None) is True
    assert await store.pending_deliveries() == [retry]
    assert await store.claim_deliveries(NOW + 10_000, lease=LEASE) == [retry]


async def test_a_stale_claimer_changes_nothing(store: AnyStore) -> None:
    """Claimer A's lease ran out and B claimed the next attempt: A's late finish is refused
    and B's entry stays as B's claim left it."""
    await store.schedule_delivery(delivery())
    (a,) = await store.claim_deliveries(NOW, lease=LEASE)
    (b,) = await store.claim_deliveries(NOW + LEASE, lease=LEASE)
    assert b.attempt == a.attempt + 1
    before = await store.pending_deliveries()
    assert await store.finish_delivery(a, None) is False
    assert await store.finish_delivery(a, replace(a, attempt=3, due=NOW + 1)) is False
    assert await store.pending_deliveries() == before
    assert await store.finish_delivery(b, None) is True and await store.pending_deliveries() == []


async def test_scheduling_again_replaces_the_sessions_entry(store: AnyStore) -> None:
    """One entry per client and session."""
    await store.schedule_delivery(delivery(due=NOW + 5))
    await store.schedule_delivery(delivery(due=NOW + 1))
    assert await store.pending_deliveries() == [delivery(due=NOW + 1)]


async def test_embedded_queue_outlives_a_restart(tmp_path: Path) -> None:
    """The embedded store keeps its queue in the SQLite file: a restarted process finds it."""
    first = EmbeddedStore(tmp_path / "q.db")
    await first.schedule_delivery(delivery())
    await first.close()
    second = EmbeddedStore(tmp_path / "q.db")
    try:
        assert await second.claim_deliveries(NOW, lease=LEASE) == [delivery()]
    finally:
        await second.close()


async def test_attempts_are_bounded_on_every_backend(store: AnyStore, tmp_path: Path) -> None:
    """The service over this backend, the endpoint refusing connections: one attempt at once,
    one per delay, each audited, then `gave_up`; the queue is empty and nothing is made later."""
    clock = FrozenClock(NOW)
    client: dict[str, Any] = {
        "client_id": "rp",
        "client_secret": "rp-secret",
        "name": {"zh": "测试", "en": "Test"},
        "redirect_uris": ["http://127.0.0.1:9/rp"],
        "backchannel_logout_uri": f"http://127.0.0.1:{free_port()}/bcl",
        "identities": ["personal"],
    }
    delays = (1.0, 4.0, 15.0)
    async with running_authsvc(
        tmp_path,
        store=_Unclosed(store),
        clock=clock,
        extra_clients=[client],
        backchannel_retry_delays=delays,
        backchannel_poll=3600.0,
    ) as authsvc:
        broker = authsvc.broker
        await end_session(broker, {"sid": "sid-b", "sub": "s"}, broker.clients.get("rp"))
        made = []
        for delay in delays:
            assert await deliver_due(broker) == 0  # not yet due
            clock.advance(delay)
            made.append(await deliver_due(broker))
        clock.advance(10 * LEASE)
        assert made == [1, 1, 1] and await deliver_due(broker) == 0
        assert await store.pending_deliveries() == []
    audit = [
        (r["outcome"], r["attempt"])
        for r in await store.audit_records(100)
        if r.get("event") == "backchannel_logout"
    ]
    assert audit == [("failed", 1), ("failed", 2), ("failed", 3), ("failed", 4), ("gave_up", 4)]


class _Unclosed:
    """The fixture's store lent to a server that closes what it is given: the fixture closes it."""

    def __init__(self, store: AnyStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def close(self) -> None:
        return None
