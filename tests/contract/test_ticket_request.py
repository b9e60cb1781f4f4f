"""`ticket_request`, on every backend: `POST /api/tickets`' per-IP hit and its authorization
request read together; and, on Redis, a hit folded into a pipeline counted on a Redis that has
no script loaded (just restarted)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from authsvc.core.oidc.authorize import AuthorizationRequest, PendingRequest
from authsvc.core.tickets import Identity
from authsvc.store.redis import RedisStore
from tests.support.redis import REDIS_URL
from tests.support.redis_cluster import RedisCluster, lone_redis

from .conftest import AnyStore, Lapse
from .test_phone_request import NOW

KEY = "rl:ticket-ip:203.0.113.7"


def remembered(request_id: str = "r-1") -> PendingRequest:
    request = AuthorizationRequest(
        client_id="hall",
        redirect_uri="https://hall.example/cb",
        scope=("openid",),
        state="甲",
        nonce="n-1",
        code_challenge="c" * 43,
        identity=Identity.PERSONAL,
        display="page",
    )
    return PendingRequest(id=request_id, request=request, expires_at=NOW + 1800)


async def test_counts_the_hit_and_reads_the_request(store: AnyStore) -> None:
    """The count includes this hit, on the counter `hit` counts; the request reads back equal,
    an unknown one as None (and is counted all the same)."""
    record = remembered()
    await store.save_authorization_request(record, ttl=60)
    first = await store.ticket_request("r-1", hit_key=KEY, window=60)
    assert (first.hits, first.request) == (1, record)
    unknown = await store.ticket_request("r-404", hit_key=KEY, window=60)
    assert (unknown.hits, unknown.request) == (2, None)
    assert await store.hit(KEY, window=60) == 3
    other = await store.ticket_request("r-1", hit_key="rl:ticket-ip:198.51.100.1", window=60)
    assert (other.hits, other.request) == (1, record)


async def test_the_window_starts_at_the_first_hit(store: AnyStore, lapse: Lapse) -> None:
    """The window is set by the first hit and not moved by later ones, as `hit`'s is."""
    assert (await store.ticket_request("r-1", hit_key=KEY, window=0.6)).hits == 1
    await lapse(0.35)
    assert (await store.ticket_request("r-1", hit_key=KEY, window=0.6)).hits == 2
    await lapse(0.4)
    assert (await store.ticket_request("r-1", hit_key=KEY, window=0.6)).hits == 1


@pytest.fixture(params=["redis", "redis-cluster"])
async def own_redis(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RedisStore]:
    """A RedisStore whose Redis has just forgotten every script (SCRIPT FLUSH, as after a
    restart): a lone redis-server of the test's own, or the test cluster (its own ports)."""
    if request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        prefix = "qrauth-test:noscript:"
        store = await RedisStore.connect(cluster.url, prefix=prefix, cluster=True)
        for node in cluster.nodes:
            with node.client() as client:
                client.script_flush()
        try:
            yield store
        finally:
            await store.close()
            cluster.purge(prefix)
        return
    node = lone_redis(tmp_path / "redis", aof=False)
    try:
        store = await RedisStore.connect(node.url, prefix="qrauth-test:")
        try:
            yield store
        finally:
            await store.close()
    finally:
        node.stop()


@pytest.mark.redis
async def test_a_folded_hit_is_counted_on_a_redis_without_scripts(
    own_redis: RedisStore,
) -> None:
    """A pipeline's hit sends its script whole: a Redis (every node of a Cluster) that has
    loaded no script counts it once, as `hit` does."""
    assert (await own_redis.ticket_request("r-1", hit_key=KEY, window=60)).hits == 1
    assert (await own_redis.ticket_request("r-1", hit_key=KEY, window=60)).hits == 2
    assert await own_redis.hit(KEY, window=60) == 3


async def test_a_ticket_counts_its_hit_first_and_past_the_limit_is_not_created(
    store: AnyStore,
) -> None:
    """`create_ticket(…, hit=…)`: counted with the ticket (one round trip on one Redis); the
    hit past the limit is refused, with no ticket and no audit record written."""
    from authsvc import errors
    from authsvc.store.base import GuardedHit

    from .test_store import pending

    hit = GuardedHit(KEY, 60.0, 1, "ticket-ip 203.0.113.7")
    first, second = pending(), pending()
    await store.create_ticket(first, ttl=60, audit={"outcome": "created"}, hit=hit)
    with pytest.raises(errors.RateLimited):
        await store.create_ticket(second, ttl=60, audit={"outcome": "created"}, hit=hit)
    assert await store.get_ticket(first.id) == first
    assert await store.get_ticket(second.id) is None
    assert [r["outcome"] for r in await store.audit_records(10)] == ["created"]
    assert await store.hit(KEY, window=60) == 3


async def test_a_request_is_recalled_uncounted_only_by_a_single_redis(store: AnyStore) -> None:
    """A request this process saved (or read) comes back without a round trip and without
    counting the hit, on one Redis; every other backend reads and counts. A process that never
    saw it reads it too."""
    record = remembered("r-recalled")
    await store.save_authorization_request(record, ttl=60)
    read = await store.ticket_request("r-recalled", hit_key=KEY, window=60, recall=True)
    assert read.request == record
    recalls = isinstance(store, RedisStore) and store.recalls
    assert (read.counted, read.hits) == ((False, 0) if recalls else (True, 1))
    assert await store.hit(KEY, window=60) == (1 if recalls else 2)
    if isinstance(store, RedisStore) and recalls:
        other = await RedisStore.connect(REDIS_URL, prefix=store._prefix)
        try:
            elsewhere = await other.ticket_request(
                "r-recalled", hit_key=KEY, window=60, recall=True
            )
        finally:
            await other.close()
        assert (elsewhere.counted, elsewhere.hits, elsewhere.request) == (True, 2, record)
