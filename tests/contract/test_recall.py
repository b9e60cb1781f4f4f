"""A phone step decided on what this process recalls (store.base.Assumed): `phone_request(…,
recall=True)` answers from memory only when it knows every part of the read, and the commit
that acts on it spends the nonce, checks the card record, the face lock and the ticket's
version, and counts the hit — refusing with nothing else written when any of them moved on.
Two RedisStores on one prefix stand for two broker processes: the other one changes what
this one recalls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from authsvc import errors
from authsvc.core.tickets import Ticket
from authsvc.store.base import Assumed, GuardedHit, PhoneRead, StaleRead
from authsvc.store.records import FaceLock
from authsvc.store.redis import RedisStore
from tests.support.redis import connect_redis

from .conftest import AnyStore
from .test_phone_request import CARD, NOW, PERSON, _issued
from .test_store import pending, scanned

DAY = "19675"
HIT = GuardedHit("rl:scan-device:device-a", 60.0, 2, "scan-device device-a")


@pytest.fixture
async def two(redis_prefix: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    this, other = await connect_redis(redis_prefix), await connect_redis(redis_prefix)
    yield this, other
    await other.close()
    await this.close()


async def _read(store: AnyStore, ticket: Ticket, nonce: str, *, recall: bool) -> PhoneRead:
    return await store.phone_request(
        person=PERSON,
        card_no="E1",
        nonce_key=nonce,
        nonce_ttl=60,
        ticket_id=ticket.id,
        face_lock_day=DAY,
        recall=recall,
    )


async def _recalled(store: RedisStore) -> tuple[Ticket, Assumed]:
    """A ticket this process created, a card and a lock it has read: the next read recalls."""
    await _issued(store)
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    assert (await _read(store, ticket, "nonce:device-a:first", recall=False)).assumed is None
    read = await _read(store, ticket, "nonce:device-a:second", recall=True)
    assert read.assumed is not None and read.ticket == ticket and read.face_lock is None
    assert read.card is not None and read.card["device_id"] == CARD["device_id"]
    return ticket, read.assumed


async def _commit(store: RedisStore, ticket: Ticket, assumed: Assumed) -> bool:
    return await store.commit_transition(
        scanned(ticket),
        expected_version=ticket.version,
        ttl=60,
        event={"state": "scanned"},
        audit={"ticket": ticket.id, "outcome": "scanned"},
        previous=ticket,
        assumed=assumed,
    )


@pytest.mark.redis
async def test_a_read_is_recalled_only_when_every_part_of_it_is_known(
    two: tuple[RedisStore, RedisStore],
) -> None:
    this, other = two
    ticket, _ = await _recalled(this)
    read = await _read(other, ticket, "nonce:device-a:elsewhere", recall=True)
    assert read.assumed is None and read.fresh_nonce, "a process that never saw it reads"
    assert not await other.add_once("nonce:device-a:elsewhere", ttl=60), "and spends the nonce"
    assert await this.add_once("nonce:device-a:second", ttl=60), "a recalled read spends nothing"
    without_lock = await this.phone_request(
        person=PERSON, card_no="E1", nonce_key="n:3", nonce_ttl=60, ticket_id=ticket.id,
        face_lock_day="19676", recall=True,
    )  # fmt: skip
    assert without_lock.assumed is None, "a lock of another day was never read"


@pytest.mark.redis
async def test_the_commit_on_a_recalled_read_spends_the_nonce_and_counts_the_hit(
    two: tuple[RedisStore, RedisStore],
) -> None:
    this, other = two
    ticket, assumed = await _recalled(this)
    assumed.hit = HIT
    assert await _commit(this, ticket, assumed)
    assert assumed.settled and assumed.nonce_spent
    assert await other.get_ticket(ticket.id) == scanned(ticket)
    assert not await other.add_once("nonce:device-a:second", ttl=60)
    assert await other.hit(HIT.key, window=60) == 2, "the commit counted one hit"
    assert [r["outcome"] for r in await other.audit_records(10)] == ["scanned"]


async def _nothing_written(
    store: RedisStore, ticket: Ticket, *, audit: int = 0, hits: int = 1
) -> None:
    assert await store.get_ticket(ticket.id) == ticket
    assert len(await store.audit_records(10)) == audit
    assert await store.hit(HIT.key, window=60) == hits, "no hit counted but this one"


@pytest.mark.redis
async def test_a_spent_nonce_is_replayed_and_nothing_is_written(
    two: tuple[RedisStore, RedisStore],
) -> None:
    this, other = two
    ticket, assumed = await _recalled(this)
    assumed.hit = HIT
    assert await other.add_once("nonce:device-a:second", ttl=60)
    with pytest.raises(errors.RequestReplayed):
        await _commit(this, ticket, assumed)
    assert assumed.settled and not assumed.nonce_spent
    await _nothing_written(other, ticket)


@pytest.mark.redis
@pytest.mark.parametrize("change", ["card suspended", "face locked", "ticket moved on"])
async def test_what_moved_on_since_it_was_recalled_is_read_again(
    two: tuple[RedisStore, RedisStore], change: str
) -> None:
    """Another process changed the card, the lock or the ticket: StaleRead, only the nonce
    spent, and the next read is a real one that sees the change."""
    this, other = two
    ticket, assumed = await _recalled(this)
    assumed.hit = HIT
    if change == "card suspended":
        status = await other.set_card_status(
            "E1", "suspended", allowed=["active"], reason="test", now=NOW
        )
        assert status is not None
    elif change == "face locked":
        await other.save_face_lock(FaceLock(person=PERSON, day=DAY, since=NOW), ttl=60)
    moved = ticket
    if change == "ticket moved on":
        moved = scanned(ticket, "device-b")
        assert await other.commit_transition(
            moved, expected_version=ticket.version, ttl=60, event=None, audit={"o": "b"}
        )
    with pytest.raises(StaleRead):
        await _commit(this, ticket, assumed)
    assert assumed.nonce_spent and not assumed.settled
    await _nothing_written(other, moved, audit=1 if change == "ticket moved on" else 0)
    assert not await other.add_once("nonce:device-a:second", ttl=60)
    again = await _read(this, ticket, "nonce:device-a:third", recall=True)
    assert again.assumed is None, "what was stale is forgotten: read for real"
    if change == "card suspended":
        assert again.card is not None and again.card["status"] == "suspended"
    elif change == "face locked":
        assert again.face_lock is not None
    else:
        assert again.ticket is not None and again.ticket.version == moved.version


@pytest.mark.redis
async def test_a_hit_past_the_limit_commits_nothing(two: tuple[RedisStore, RedisStore]) -> None:
    this, other = two
    ticket, assumed = await _recalled(this)
    assumed.hit = HIT
    for _ in range(HIT.limit):
        await other.hit(HIT.key, window=60)
    with pytest.raises(errors.RateLimited):
        await _commit(this, ticket, assumed)
    assert assumed.settled and assumed.nonce_spent
    await _nothing_written(other, ticket, hits=HIT.limit + 2)


async def test_only_a_single_redis_recalls(store: AnyStore) -> None:
    """Memory and embedded stores read without a round trip; on a Cluster the card, the lock
    and the ticket are in different slots, so no one script could check them."""
    await _issued(store)
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    await _read(store, ticket, "nonce:d:1", recall=False)
    recalled = await _read(store, ticket, "nonce:d:2", recall=True)
    single_redis = isinstance(store, RedisStore) and store.recalls
    assert (recalled.assumed is not None) == single_redis
    if recalled.assumed is None:
        assert not await store.add_once("nonce:d:2", ttl=60), "a read spends the nonce"
