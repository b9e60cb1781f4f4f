"""`save_redemption`, on every backend: what a redeemed code leaves — the access token, what it
issued, the person's session entry, the audit record — written in one step that then reads the
replay flag and the ticket; the token is always written before the flag is read."""

from __future__ import annotations

import asyncio

from authsvc.store.base import RedemptionRead
from authsvc.store.records import (
    AccessToken,
    IssuedTokens,
    Redemption,
    SessionEntry,
    secret_hash,
)

from .conftest import AnyStore, Lapse
from .test_store import pending

NOW = 1_700_000_000.25
PERSON = "p-7"


def redemption(n: int = 1, *, person: str = PERSON, ticket: str = "t-1") -> Redemption:
    token_hash = secret_hash(f"token-{n}")
    token = AccessToken(
        claims={"sub": f"s-{n}", "name": "欧阳娜娜", "company": {"name": "某某公司"}},
        client_id="hall",
        sid=f"sid-{n}",
        ticket=ticket,
        scope=("openid", "profile"),
        person=person,
        card_no="c-1",
    )
    issued = IssuedTokens(
        access_tokens=(token_hash,), ticket=ticket, client_id="hall", person=person
    )
    session = SessionEntry(sid=f"sid-{n}", client_id="hall", sub=f"s-{n}", until=NOW + 100 + n)
    return Redemption(secret_hash(f"code-{n}"), token_hash, token, issued, session)


async def save(
    store: AnyStore, record: Redemption, *, keep: int = 64, now: float = NOW, ttl: float = 60
) -> RedemptionRead:
    audit = {"time": now, "event": "token", "outcome": "issued", "ticket": record.issued.ticket}
    return await store.save_redemption(
        record,
        ttl=ttl,
        code_ttl=60,
        session_ttl=ttl,
        keep_sessions=keep,
        now=now,
        audit=audit,
    )


async def test_leaves_the_token_what_it_issued_the_session_and_the_audit(
    store: AnyStore,
) -> None:
    """Each record reads back through its own getter; the ticket is read, the flag is not set."""
    ticket = pending()
    await store.create_ticket(ticket, ttl=60)
    record = redemption(ticket=ticket.id)
    read = await save(store, record)
    assert read == RedemptionRead(replayed=False, ticket=ticket)
    assert await store.get_access_token(record.token_hash) == record.token
    assert await store.issued_for_code(record.code_hash) == record.issued
    assert await store.issued_for_ticket(ticket.id) == record.issued
    assert await store.issued_for_sid("sid-1") == record.issued
    assert await store.person_sessions(PERSON) == (record.session,)
    assert (await store.audit_records(1))[0]["ticket"] == ticket.id


async def test_reads_the_replay_flag_and_a_missing_ticket(store: AnyStore) -> None:
    """A code flagged replayed reads so (the flag of another code does not); no ticket: None."""
    record = redemption()
    await store.flag_code_replayed(secret_hash("code-2"), ttl=60)
    assert await save(store, record) == RedemptionRead(replayed=False, ticket=None)
    await store.flag_code_replayed(record.code_hash, ttl=60)
    assert (await save(store, redemption())).replayed is True


async def test_the_session_index_drops_ended_entries_and_keeps_the_longest(
    store: AnyStore,
) -> None:
    """Entries whose `until` has passed are dropped, and of the rest the `keep` that last
    longest stay, earliest first; other people's indexes are untouched."""
    ended = SessionEntry(sid="old", client_id="hall", sub="s-0", until=NOW - 1)
    await store.save_person_sessions(PERSON, [ended], ttl=60)
    for n in (3, 1, 2, 4):
        await save(store, redemption(n), keep=3)
    await save(store, redemption(9, person="p-other"), keep=3)
    assert await store.person_sessions(PERSON) == tuple(redemption(n).session for n in (2, 3, 4))
    assert await store.person_sessions("p-other") == (redemption(9).session,)


async def test_concurrent_logins_of_one_person_all_stay_in_the_index(store: AnyStore) -> None:
    """Twenty logins of one person redeemed at once: every session is in the index (none lost
    to a read-modify-write), and taking the index returns each once."""
    await asyncio.gather(*(save(store, redemption(n)) for n in range(20)))
    sids = {s.sid for s in await store.person_sessions(PERSON)}
    assert sids == {f"sid-{n}" for n in range(20)}
    taken = await asyncio.gather(*(store.take_person_sessions(PERSON) for _ in range(5)))
    assert sorted(len(t) for t in taken) == [0, 0, 0, 0, 20]


async def test_a_replay_racing_the_winner_always_ends_with_the_token_dead(
    store: AnyStore,
) -> None:
    """The replayer flags the code, then deletes the token; the winner saves at the same time,
    the replayer starting 0 to 9 event-loop turns later. In every round the winner either reads
    the flag or its token is gone: the token is written before the flag is read (tokens.redeem's
    ordering argument)."""
    for n in range(40):
        record = redemption(n)

        async def replay(record: Redemption = record, turns: int = n % 10) -> None:
            for _ in range(turns):
                await asyncio.sleep(0)
            await store.flag_code_replayed(record.code_hash, ttl=60)
            await store.delete_access_tokens(record.issued.access_tokens)

        read, _ = await asyncio.gather(save(store, record), replay())
        token = await store.get_access_token(record.token_hash)
        assert read.replayed or token is None, n


async def test_store_ttl_collects_the_records(store: AnyStore, lapse: Lapse) -> None:
    """Past their TTLs the token, the ticket's and sid's entries and the session index are gone;
    the code's entry lives `code_ttl`."""
    record = redemption()
    await save(store, record, ttl=0.3)
    await lapse(0.6)
    assert await store.get_access_token(record.token_hash) is None
    assert await store.issued_for_ticket("t-1") is None
    assert await store.issued_for_sid("sid-1") is None
    assert await store.person_sessions(PERSON) == ()
    assert await store.issued_for_code(record.code_hash) == record.issued
