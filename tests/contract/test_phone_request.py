"""`phone_request`, on every backend: a signed phone call's reads in one go — the e-card
record, the device nonce spent once, the ticket the call names, and when asked a rate-limit hit
and the person's face lock of the day."""

from __future__ import annotations

import asyncio
import dataclasses

from authsvc.store.base import ISSUED
from authsvc.store.records import FaceLock

from .conftest import AnyStore
from .test_store import pending

NOW = 1_700_000_000.5
PERSON = "7f3a9c0e11aa22bb33cc44dd"
CARD = {"card_no": "E1", "status": "active", "device_id": "device-a", "name": "欧阳娜娜"}


async def _issued(store: AnyStore) -> None:
    assert await store.issue_card(PERSON, dict(CARD), expected="", now=NOW) == ISSUED


async def test_reads_the_card_and_the_ticket_and_spends_the_nonce(store: AnyStore) -> None:
    await _issued(store)
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    read = await store.phone_request(
        person=PERSON, card_no="E1", nonce_key="nonce:d:n1", nonce_ttl=60, ticket_id=ticket.id
    )
    assert read.fresh_nonce and read.card is not None and read.card["device_id"] == "device-a"
    assert read.ticket == ticket
    assert not await store.add_once("nonce:d:n1", ttl=60), "the nonce is spent"


async def test_a_replayed_nonce_is_not_fresh_and_a_missing_ticket_is_none(
    store: AnyStore,
) -> None:
    await _issued(store)
    first = await store.phone_request(
        person=PERSON, card_no="E1", nonce_key="nonce:d:n2", nonce_ttl=60, ticket_id="nope"
    )
    again = await store.phone_request(
        person=PERSON, card_no="E1", nonce_key="nonce:d:n2", nonce_ttl=60
    )
    assert first.fresh_nonce and first.ticket is None
    assert not again.fresh_nonce and again.ticket is None and again.card == first.card


async def test_an_unknown_card_reads_as_none(store: AnyStore) -> None:
    read = await store.phone_request(
        person=PERSON, card_no="E404", nonce_key="nonce:d:n3", nonce_ttl=60
    )
    assert read.card is None and read.fresh_nonce


async def test_of_concurrent_calls_with_one_nonce_exactly_one_is_fresh(store: AnyStore) -> None:
    await _issued(store)
    reads = await asyncio.gather(
        *(
            store.phone_request(person=PERSON, card_no="E1", nonce_key="nonce:d:race", nonce_ttl=60)
            for _ in range(20)
        )
    )
    assert sum(read.fresh_nonce for read in reads) == 1


async def test_a_commit_from_the_read_ticket_writes_what_a_full_rewrite_would(
    store: AnyStore,
) -> None:
    """`previous` lets Redis write only the changed fields: the stored ticket must read back
    the same as after a full rewrite (every field, the unchanged ones included)."""
    from .test_store import confirmed

    start, end = pending(), confirmed()
    target = dataclasses.replace(end, id=start.id, version=start.version + 1)
    await store.create_ticket(start, ttl=60)
    committed = await store.commit_transition(
        target, expected_version=start.version, ttl=60, event={}, audit={}, previous=start
    )
    assert committed and await store.get_ticket(start.id) == target
    stale = dataclasses.replace(target, version=target.version + 1, reason="late")
    assert not await store.commit_transition(
        stale, expected_version=start.version, ttl=60, event={}, audit={}, previous=start
    )
    assert await store.get_ticket(start.id) == target, "a lost race writes nothing"


async def test_the_face_lock_of_the_day_asked_for_is_read(store: AnyStore) -> None:
    """`face_lock_day` reads the person's lock on that day (None on another day, or unasked)."""
    await _issued(store)
    lock = FaceLock(person=PERSON, day="2026-12-02", since=NOW)
    await store.save_face_lock(lock, ttl=60)

    async def read(nonce: str, day: str) -> FaceLock | None:
        got = await store.phone_request(
            person=PERSON, card_no="E1", nonce_key=nonce, nonce_ttl=60, face_lock_day=day
        )
        assert got.fresh_nonce and got.card is not None
        return got.face_lock

    assert await read("nonce:f:1", "2026-12-02") == lock
    assert await read("nonce:f:2", "2026-12-03") is None
    assert await read("nonce:f:3", "") is None
