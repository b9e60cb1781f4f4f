"""The Store's OIDC records (store/records.py, core/oidc/grant.py), against every backend:
each reads back equal, the single-use ones are taken once under concurrency, and a store TTL
only collects garbage."""

from __future__ import annotations

import asyncio

import pytest

from authsvc import errors
from authsvc.core import face
from authsvc.core.oidc.authorize import AuthorizationRequest, PendingRequest
from authsvc.core.oidc.grant import Grant
from authsvc.core.tickets import Identity
from authsvc.store import keys
from authsvc.store.base import GuardedHit
from authsvc.store.records import AccessToken, FaceLock, IssuedTokens, SessionEntry, secret_hash

from .conftest import AnyStore, Lapse

NOW = 1_700_000_000.25
CODE = secret_hash("the-code")


def grant(**over: object) -> Grant:
    values: dict[str, object] = {
        "ticket": "t-1",
        "client_id": "hall",
        "request": {"redirect_uri": "https://hall.example/cb", "scope": ["openid"], "state": "甲"},
        "subject": {"name": "欧阳娜娜", "id_number": "11010519491231002X", "card_no": "c-1"},
        "account": {"role": "personal", "key": "personal:"},
        "auth_time": int(NOW),
        "acr": "urn:qrauth:acr:face",
        "amr": ("hwk", "face"),
        "sid": "sid-1",
        "expires_at": NOW + 60,
    }
    return Grant(**{**values, **over})  # type: ignore[arg-type]


def marker(*hashes: str) -> IssuedTokens:
    return IssuedTokens(access_tokens=hashes or (secret_hash("token-1"),))


async def test_authorization_request_reads_back_equal(store: AnyStore) -> None:
    """A remembered authorization request reads back equal; an unknown one is None."""
    request = AuthorizationRequest(
        client_id="hall",
        redirect_uri="https://hall.example/cb?x=1",
        scope=("openid", "profile"),
        state="状态-1",
        nonce="n-1",
        code_challenge="c" * 43,
        identity=Identity.LEGAL_REP,
        display="embedded",
        acr_values=("urn:qrauth:acr:face",),
    )
    record = PendingRequest(id="r-1", request=request, expires_at=NOW + 1800)
    await store.save_authorization_request(record, ttl=60)
    assert await store.get_authorization_request("r-1") == record
    assert await store.get_authorization_request("r-2") is None


async def test_code_is_redeemed_once_leaving_its_marker(store: AnyStore) -> None:
    """The first redeemer gets the grant (equal to what was saved); after that the code is
    gone and the marker names what it issued."""
    await store.save_code(CODE, grant(), ttl=60)
    assert await store.issued_for_code(CODE) is None
    assert await store.redeem_code(CODE, marker(), ttl=60) == grant()
    assert await store.redeem_code(CODE, marker("other"), ttl=60) is None
    assert await store.issued_for_code(CODE) == marker()


async def test_a_redemption_counts_its_hit_first_and_past_the_limit_takes_nothing(
    store: AnyStore,
) -> None:
    """`hit` is counted with the redemption (one round trip on one Redis); the hit past the
    limit is refused and leaves the code where it was, unredeemed and unmarked."""
    hit = GuardedHit("rl:token-ip:192.0.2.1", 60.0, 2, "token-ip 192.0.2.1")
    other = secret_hash("another-code")
    await store.save_code(CODE, grant(), ttl=60)
    await store.save_code(other, grant(ticket="t-2"), ttl=60)
    assert await store.redeem_code(secret_hash("unknown"), marker(), ttl=60, hit=hit) is None
    assert await store.redeem_code(other, marker(), ttl=60, hit=hit) == grant(ticket="t-2")
    with pytest.raises(errors.RateLimited) as refused:
        await store.redeem_code(CODE, marker(), ttl=60, hit=hit)
    assert refused.value.retry_after == 60
    assert await store.issued_for_code(CODE) is None
    assert await store.hit(hit.key, window=60) == 4, "three counted, this one the fourth"
    assert await store.redeem_code(CODE, marker(), ttl=60) == grant(), "still there"


async def test_concurrent_redeemers_one_wins_the_others_find_the_marker(store: AnyStore) -> None:
    """Of 20 concurrent redeemers one gets the grant; every other one already finds the marker
    (a replay always finds what to revoke)."""
    await store.save_code(CODE, grant(), ttl=60)

    async def redeem(n: int) -> tuple[Grant | None, IssuedTokens | None]:
        taken = await store.redeem_code(CODE, marker(f"h-{n}"), ttl=60)
        return taken, None if taken else await store.issued_for_code(CODE)

    results = await asyncio.gather(*(redeem(n) for n in range(20)))
    winners = [n for n, (taken, _) in enumerate(results) if taken is not None]
    assert len(winners) == 1 and results[winners[0]][0] == grant()
    assert all(found == marker(f"h-{winners[0]}") for taken, found in results if taken is None)


async def test_unknown_or_discarded_code_leaves_no_marker(store: AnyStore) -> None:
    """Redeeming a code never saved, or discarded, gets None and writes no marker."""
    assert await store.redeem_code(CODE, marker(), ttl=60) is None
    other = secret_hash("discarded")
    await store.save_code(other, grant(), ttl=60)
    await store.discard_code(other)
    assert await store.redeem_code(other, marker(), ttl=60) is None
    assert await store.issued_for_code(CODE) is None
    assert await store.issued_for_code(other) is None


async def test_issued_tokens_are_found_by_code_ticket_and_sid(
    store: AnyStore, lapse: Lapse
) -> None:
    """What a code issued is found by the code, the ticket and the sid; the code's entry lives
    `code_ttl` when that is the longer."""
    issued = IssuedTokens(
        access_tokens=(secret_hash("a"), secret_hash("b")),
        ticket="t-9",
        client_id="hall",
        person="p-9",
    )
    await store.save_issued(issued, code_hash=CODE, sid="sid-9", ttl=0.3, code_ttl=60)
    assert await store.issued_for_code(CODE) == issued
    assert await store.issued_for_ticket("t-9") == issued
    assert await store.issued_for_sid("sid-9") == issued
    assert await store.issued_for_ticket("t-0") is None
    assert await store.issued_for_sid("sid-0") is None
    await lapse(0.6)
    assert await store.issued_for_ticket("t-9") is None
    assert await store.issued_for_sid("sid-9") is None
    assert await store.issued_for_code(CODE) == issued


async def test_replayed_flag(store: AnyStore) -> None:
    """A code is flagged replayed only once told so."""
    assert await store.code_replayed(CODE) is False
    await store.flag_code_replayed(CODE, ttl=60)
    assert await store.code_replayed(CODE) is True
    assert await store.code_replayed(secret_hash("another")) is False


async def test_access_tokens_read_back_and_are_deleted_together(store: AnyStore) -> None:
    """An access token's record reads back equal; deleting some leaves the others."""
    records = {
        secret_hash(f"token-{n}"): AccessToken(
            claims={"sub": f"s-{n}", "name": "张三", "company": {"name": "某某公司"}},
            client_id="hall",
            sid="sid-1",
            ticket="t-1",
            scope=("openid", "ecard"),
            person="p-1",
            card_no="c-1",
        )
        for n in range(3)
    }
    for token_hash, record in records.items():
        await store.save_access_token(token_hash, record, ttl=60)
    hashes = list(records)
    assert await store.get_access_token(hashes[0]) == records[hashes[0]]
    await store.delete_access_tokens(hashes[:2])
    await store.delete_access_tokens([])
    assert [await store.get_access_token(h) for h in hashes[:2]] == [None, None]
    assert await store.get_access_token(hashes[2]) == records[hashes[2]]


async def test_assertion_jti_is_spent_once_per_client(store: AnyStore, lapse: Lapse) -> None:
    """A client's assertion jti is accepted once within the TTL, then again once it lapsed; the
    same jti of another client is its own."""
    assert await store.spend_assertion_jti("hall", "j-1", ttl=0.3) is True
    assert await store.spend_assertion_jti("hall", "j-1", ttl=0.3) is False
    assert await store.spend_assertion_jti("spa", "j-1", ttl=0.3) is True
    spent = await asyncio.gather(
        *(store.spend_assertion_jti("hall", "j-2", ttl=60) for _ in range(10))
    )
    assert spent.count(True) == 1
    await lapse(0.6)
    assert await store.spend_assertion_jti("hall", "j-1", ttl=0.3) is True


async def test_person_sessions_are_kept_and_taken_once(store: AnyStore) -> None:
    """A person's sessions read back in order; taking them returns them once, concurrently too."""
    assert await store.person_sessions("p-1") == ()
    sessions = [
        SessionEntry(sid=f"s-{n}", client_id="hall", sub="张", until=NOW + n) for n in range(3)
    ]
    await store.save_person_sessions("p-1", sessions, ttl=60)
    assert await store.person_sessions("p-1") == tuple(sessions)
    assert await store.person_sessions("p-2") == ()
    taken = await asyncio.gather(*(store.take_person_sessions("p-1") for _ in range(10)))
    assert [t for t in taken if t] == [tuple(sessions)]
    assert await store.person_sessions("p-1") == ()


async def test_face_challenge_is_taken_once(store: AnyStore) -> None:
    """A face challenge reads back equal, once, to one of many concurrent takers."""
    challenge = face.new_challenge(
        purpose="ticket:t-1", person="p-1", device="d-1", now=NOW, ttl=120
    )
    await store.save_face_challenge(challenge, ttl=60)
    taken = await asyncio.gather(*(store.take_face_challenge(challenge.id) for _ in range(10)))
    assert [t for t in taken if t is not None] == [challenge]
    assert await store.take_face_challenge(challenge.id) is None
    assert await store.take_face_challenge("unknown") is None


async def test_face_lock_is_per_person_and_day(store: AnyStore) -> None:
    """A face lock reads back for its person and day only."""
    lock = FaceLock(person="p-1", day="2026-12-02", since=NOW)
    await store.save_face_lock(lock, ttl=60)
    assert await store.get_face_lock("p-1", "2026-12-02") == lock
    assert await store.get_face_lock("p-1", "2026-12-03") is None
    assert await store.get_face_lock("p-2", "2026-12-02") is None


async def test_store_ttl_collects_every_record(store: AnyStore, lapse: Lapse) -> None:
    """Past its store TTL every record is gone (garbage collection; logical expiry is the
    core's)."""
    challenge = face.new_challenge(purpose="p", person="p-1", device="d-1", now=NOW, ttl=120)
    request = AuthorizationRequest(
        "hall", "https://h/cb", ("openid",), "", "", "c" * 43, Identity.PERSONAL, "page"
    )
    await store.save_authorization_request(PendingRequest("r-1", request, NOW), ttl=0.2)
    await store.save_code(CODE, grant(), ttl=0.2)
    await store.save_access_token(CODE, AccessToken({}, "hall", "", "", (), ""), ttl=0.2)
    await store.save_person_sessions("p-1", [SessionEntry("s", "c", "u", NOW)], ttl=0.2)
    await store.save_face_challenge(challenge, ttl=0.2)
    await store.save_face_lock(FaceLock("p-1", "d"), ttl=0.2)
    await store.flag_code_replayed(CODE, ttl=0.2)
    await lapse(0.5)
    assert await store.get_authorization_request("r-1") is None
    assert await store.redeem_code(CODE, marker(), ttl=60) is None
    assert await store.get_access_token(CODE) is None
    assert await store.person_sessions("p-1") == ()
    assert await store.take_face_challenge(challenge.id) is None
    assert await store.get_face_lock("p-1", "d") is None
    assert await store.code_replayed(CODE) is False


def test_a_code_and_its_marker_share_one_cluster_slot() -> None:
    """Redeeming is one script on a Redis Cluster: the code and its marker hash alike."""
    layout = keys.KeyLayout("qrauth:", keys.CLUSTER_SHARDS)
    for secret in ("a", "b", "张"):
        code_hash = secret_hash(secret)
        slots = {
            keys.key_slot(layout.plain("v", keys.code(code_hash))),
            keys.key_slot(layout.plain("v", keys.used_code(code_hash))),
        }
        assert len(slots) == 1
