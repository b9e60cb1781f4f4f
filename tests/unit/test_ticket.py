"""The ticket state machine (authsvc/core/ticket.py): every state × every operation, pure."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authsvc import errors
from authsvc.core import tickets
from authsvc.core.face import new_challenge
from authsvc.core.tickets import Identity, Lifetimes, State, Ticket

NOW = 1_800_000_000.0
LIFE = Lifetimes(pending=120.0, scanned=180.0, confirmed=60.0)
PHONE, OTHER = "device-a-thumbprint", "device-b-thumbprint"
SECRET = "s3cret-browser-secret-that-stays-in-page-memory"
SUBJECT = {
    "card_no": "E12345678AB",
    "name": "欧阳娜娜",
    "id_number": "11010519491231002X",
    "phone": "13800138000",
}
ACCOUNTS = [
    {"key": "personal:", "role": "personal"},
    {"key": "agent:91230100MA1234567X", "role": "agent", "credit_code": "91230100MA1234567X"},
]
REDIRECT = "http://127.0.0.1:9/cb?code=the-code&state=xyz"
MAX_FAILURES = 3
FUZZ = settings(max_examples=200, deadline=None, database=None)


def pending() -> Ticket:
    return tickets.create(
        client_id="hall",
        identity=Identity.PERSONAL,
        browser_ip="127.0.0.1",
        browser_ua="Mozilla/5.0",
        browser_secret=SECRET,
        now=NOW,
        lifetimes=LIFE,
    )


CHALLENGE = new_challenge(purpose="ticket:t", person="p", device=PHONE, now=NOW, ttl=120)


def answer_face(t: Ticket, device: str, now: float, *, passed: bool, max_failures: int) -> Ticket:
    """The answer to the challenge `t` holds (put there as issuing would, with no new version)."""
    held = dataclasses.replace(t, face_challenge=CHALLENGE)
    return tickets.record_face_check(
        held,
        device_id=device,
        challenge_id=CHALLENGE.id,
        passed=passed,
        now=now,
        max_failures=max_failures,
    )


def scanned(t: Ticket | None = None) -> Ticket:
    """Scanned by PHONE, accounts offered, the personal account chosen, the face check passed."""
    t = tickets.scan(t or pending(), device_id=PHONE, subject=SUBJECT, now=NOW + 1, lifetimes=LIFE)
    t = tickets.offer_accounts(t, device_id=PHONE, accounts=ACCOUNTS, now=NOW + 2)
    t = tickets.choose_account(t, device_id=PHONE, key="personal:", now=NOW + 3)
    return answer_face(t, PHONE, NOW + 4, passed=True, max_failures=3)


def confirmed() -> Ticket:
    return tickets.confirm(
        scanned(), device_id=PHONE, redirect=REDIRECT, now=NOW + 5, lifetimes=LIFE
    )


STATES: dict[State, Callable[[], Ticket]] = {
    State.PENDING: pending,
    State.SCANNED: scanned,
    State.CONFIRMED: confirmed,
    State.CONSUMED: lambda: tickets.consume(confirmed(), now=NOW + 6),
    State.REJECTED: lambda: tickets.reject(scanned(), device_id=PHONE, now=NOW + 5),
    State.EXPIRED: lambda: tickets.effective(scanned(), NOW + 10_000),
}

T = NOW + 10  # every ticket above is live at T, but the expired one
OPERATIONS: dict[str, Callable[[Ticket, str, float], Ticket]] = {
    "scan": lambda t, d, now: tickets.scan(
        t, device_id=d, subject=SUBJECT, now=now, lifetimes=LIFE
    ),
    "release": lambda t, d, now: tickets.release(t, now=now, lifetimes=LIFE),
    "offer": lambda t, d, now: tickets.offer_accounts(t, device_id=d, accounts=ACCOUNTS, now=now),
    "choose": lambda t, d, now: tickets.choose_account(t, device_id=d, key="personal:", now=now),
    "face_pass": lambda t, d, now: answer_face(t, d, now, passed=True, max_failures=MAX_FAILURES),
    "face_fail": lambda t, d, now: answer_face(t, d, now, passed=False, max_failures=MAX_FAILURES),
    "confirm": lambda t, d, now: tickets.confirm(
        t, device_id=d, redirect=REDIRECT, now=now, lifetimes=LIFE
    ),
    "reject": lambda t, d, now: tickets.reject(t, device_id=d, now=now),
    "consume": lambda t, d, now: tickets.consume(t, now=now),
}
DEVICE_OPS = ("offer", "choose", "face_pass", "face_fail", "confirm", "reject")
CONFLICT, SCANNED_ALREADY = "ticket_state_conflict", "ticket_already_scanned"
CONSUMED, EXPIRED = "ticket_consumed", "ticket_expired"

# state → operation → the state it moves to, or the stable error code it raises.
TABLE: dict[State, dict[str, State | str]] = {
    State.PENDING: {
        "scan": State.SCANNED,
        "release": CONFLICT,
        **dict.fromkeys(DEVICE_OPS, CONFLICT),
        "consume": CONFLICT,
    },
    State.SCANNED: {
        "scan": SCANNED_ALREADY,
        "release": State.PENDING,
        "offer": State.SCANNED,
        "choose": State.SCANNED,
        "face_pass": State.SCANNED,
        "face_fail": State.SCANNED,
        "confirm": State.CONFIRMED,
        "reject": State.REJECTED,
        "consume": CONFLICT,
    },
    State.CONFIRMED: {
        "scan": SCANNED_ALREADY,
        "release": CONFLICT,
        **dict.fromkeys(DEVICE_OPS, CONFLICT),
        "consume": State.CONSUMED,
    },
    State.CONSUMED: {
        "scan": CONSUMED,
        "release": CONSUMED,
        **dict.fromkeys(DEVICE_OPS, CONSUMED),
        "consume": CONFLICT,
    },
    State.REJECTED: {
        "scan": SCANNED_ALREADY,
        "release": CONFLICT,
        **dict.fromkeys(DEVICE_OPS, CONFLICT),
        "consume": CONFLICT,
    },
    State.EXPIRED: {
        "scan": EXPIRED,
        "release": EXPIRED,
        **dict.fromkeys(DEVICE_OPS, EXPIRED),
        "consume": CONFLICT,
    },
}
CELLS = [(s, op, want) for s, row in TABLE.items() for op, want in row.items()]


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(errors.QrAuthError) as refused:
        call()
    return refused.value.code


def test_table_covers_every_state_and_operation() -> None:
    """The table below is total: every state × every operation has an expected outcome."""
    assert set(TABLE) == set(State) and set(STATES) == set(State)
    assert all(set(row) == set(OPERATIONS) for row in TABLE.values())
    assert all(STATES[s]().state is s for s in State)


@pytest.mark.parametrize(("state", "op", "want"), CELLS, ids=[f"{s}-{o}" for s, o, _ in CELLS])
def test_transition_table(state: State, op: str, want: State | str) -> None:
    """An allowed move succeeds with version+1; every other move raises its stable code."""
    before = STATES[state]()
    if isinstance(want, State):
        after = OPERATIONS[op](before, PHONE, T)
        assert after.state is want and after.version == before.version + 1 and after.updated_at == T
    else:
        assert code_of(lambda: OPERATIONS[op](before, PHONE, T)) == want


def test_state_changes_follow_allowed() -> None:
    """Every state change the table allows is in tickets.ALLOWED; terminal states have none."""
    for state, op, want in CELLS:
        if isinstance(want, State) and want is not state:
            assert want in tickets.ALLOWED[state], (state, op)
    assert not any(s in tickets.ALLOWED for s in tickets.TERMINAL)


@pytest.mark.parametrize("state", [State.PENDING, State.SCANNED, State.CONFIRMED])
@pytest.mark.parametrize("op", [op for op in OPERATIONS if op != "consume"])
def test_live_ticket_past_expiry_is_refused_as_expired(state: State, op: str) -> None:
    """A live ticket at or past `expires_at` refuses every phone step with ticket_expired."""
    ticket = STATES[state]()
    assert code_of(lambda: OPERATIONS[op](ticket, PHONE, ticket.expires_at)) == EXPIRED


@pytest.mark.parametrize("state", [State.PENDING, State.SCANNED, State.CONFIRMED])
def test_effective_expires_by_now(state: State) -> None:
    """effective() is the identity before expiry and reads expired (version+1) from expires_at."""
    ticket = STATES[state]()
    assert tickets.effective(ticket, ticket.expires_at - 0.001) is ticket
    expired = tickets.effective(ticket, ticket.expires_at)
    assert expired.state is State.EXPIRED and expired.version == ticket.version + 1
    assert expired.expires_at == ticket.expires_at


@pytest.mark.parametrize("state", sorted(tickets.TERMINAL))
def test_effective_leaves_terminal_tickets_alone(state: State) -> None:
    """A consumed, rejected or expired ticket never changes with time."""
    ticket = STATES[state]()
    assert tickets.effective(ticket, NOW + 10**9) is ticket


def test_lifetimes_set_expiry_per_state() -> None:
    """Each state gets its own lifetime, counted from the move into it."""
    assert pending().expires_at == NOW + LIFE.pending
    assert (
        tickets.scan(
            pending(), device_id=PHONE, subject=SUBJECT, now=NOW + 7, lifetimes=LIFE
        ).expires_at
        == NOW + 7 + LIFE.scanned
    )
    assert confirmed().expires_at == NOW + 5 + LIFE.confirmed


@pytest.mark.parametrize("op", DEVICE_OPS)
def test_first_scan_locks_the_device(op: str) -> None:
    """After the first scan, every phone step from another device is not_ticket_device."""
    ticket = scanned()
    assert ticket.device_id == PHONE
    assert code_of(lambda: OPERATIONS[op](ticket, OTHER, T)) == "not_ticket_device"
    assert code_of(lambda: OPERATIONS["scan"](ticket, OTHER, T)) == SCANNED_ALREADY


def test_only_an_offered_account_can_be_chosen() -> None:
    """Choosing a key the portal did not offer is account_not_offered."""
    ticket = scanned()
    chosen = tickets.choose_account(ticket, device_id=PHONE, key="agent:91230100MA1234567X", now=T)
    assert chosen.account["role"] == "agent" and chosen.version == ticket.version + 1
    assert (
        code_of(
            lambda: tickets.choose_account(
                ticket, device_id=PHONE, key="legal_rep:91230100MA1234567X", now=T
            )
        )
        == "account_not_offered"
    )


def test_confirm_needs_an_account_then_a_face_check() -> None:
    """Confirm refuses with account_required first, then face_check_required."""
    bare = tickets.scan(pending(), device_id=PHONE, subject=SUBJECT, now=NOW + 1, lifetimes=LIFE)
    bare = tickets.offer_accounts(bare, device_id=PHONE, accounts=ACCOUNTS, now=NOW + 2)
    faced = answer_face(bare, PHONE, T, passed=True, max_failures=3)
    chosen = tickets.choose_account(bare, device_id=PHONE, key="personal:", now=T)
    for ticket, want in (
        (bare, "account_required"),
        (faced, "account_required"),
        (chosen, "face_check_required"),
    ):
        assert (
            code_of(lambda t=ticket: tickets.check_confirmable(t, device_id=PHONE, now=T)) == want
        )
        assert (
            code_of(
                lambda t=ticket: tickets.confirm(
                    t, device_id=PHONE, redirect=REDIRECT, now=T, lifetimes=LIFE
                )
            )
            == want
        )


@pytest.mark.parametrize("max_failures", [1, 3, 5])
def test_face_failures_are_bounded(max_failures: int) -> None:
    """max_failures-1 failures may be retried; the max_failures-th rejects the ticket."""
    ticket = scanned()
    for n in range(1, max_failures):
        ticket = answer_face(ticket, PHONE, T, passed=False, max_failures=max_failures)
        assert (
            ticket.state is State.SCANNED and ticket.face_failures == n and not ticket.face_passed
        )
    last = answer_face(ticket, PHONE, T, passed=False, max_failures=max_failures)
    assert last.state is State.REJECTED and last.reason == "face_check_exhausted"
    assert last.face_failures == max_failures and last.version == ticket.version + 1


def test_a_pass_after_failures_keeps_the_count() -> None:
    """A later pass sets face_passed but keeps the failure count; a later fail un-passes."""
    ticket = answer_face(scanned(), PHONE, T, passed=False, max_failures=3)
    passed = answer_face(ticket, PHONE, T, passed=True, max_failures=3)
    assert passed.face_passed and passed.face_failures == 1
    again = answer_face(passed, PHONE, T, passed=False, max_failures=3)
    assert not again.face_passed and again.face_failures == 2


def test_release_goes_back_to_pending_and_forgets_the_phone() -> None:
    """release() undoes the scan entirely, so any phone can scan again."""
    ticket = answer_face(scanned(), PHONE, T, passed=False, max_failures=3)
    released = tickets.release(ticket, now=T, lifetimes=LIFE)
    assert released.state is State.PENDING and released.version == ticket.version + 1
    assert (
        released.device_id,
        dict(released.subject),
        released.accounts,
        dict(released.account),
        released.face_passed,
        released.face_failures,
    ) == ("", {}, (), {}, False, 0)
    assert released.expires_at == max(ticket.expires_at, T + 30.0)
    again = tickets.scan(released, device_id=OTHER, subject=SUBJECT, now=T + 1, lifetimes=LIFE)
    assert again.state is State.SCANNED and again.device_id == OTHER


@pytest.mark.parametrize("state", list(State))
def test_event_never_reveals_identity_or_secret(state: State) -> None:
    """The browser's event carries a masked name at most: no full name, ID number or secret."""
    ticket = STATES[state]()
    text = json.dumps(tickets.event(ticket), ensure_ascii=False)
    for secret in (
        SUBJECT["name"],
        SUBJECT["id_number"],
        SUBJECT["phone"],
        SECRET,
        ticket.browser_secret_hash,
        ticket.device_id or PHONE,
    ):
        assert secret not in text
    body = tickets.event(ticket)
    assert {"ticket", "state", "version", "expires_at"} <= set(body) and body["state"] == state
    assert body.get("name") == ("欧***" if state in (State.SCANNED, State.CONFIRMED) else None)


@pytest.mark.parametrize("state", list(State))
def test_event_has_redirect_only_when_confirmed(state: State) -> None:
    """Even with a redirect on the ticket, only a confirmed ticket's event carries it."""
    ticket = dataclasses.replace(STATES[state](), redirect=REDIRECT)
    assert ("redirect" in tickets.event(ticket)) is (state is State.CONFIRMED)
    assert tickets.event(confirmed())["redirect"] == REDIRECT


def test_consume_clears_the_redirect() -> None:
    """Once the code is redeemed, the redirect carrying it is gone from the ticket."""
    assert STATES[State.CONSUMED]().redirect == ""


@pytest.mark.parametrize(
    ("given_secret", "ok"),
    [
        (SECRET, True),
        ("", False),
        (SECRET[:-1], False),
        (SECRET + "x", False),
        (tickets.hash_secret(SECRET), False),
        ("秘密", False),
    ],
)
def test_secret_matches(given_secret: str, ok: bool) -> None:
    """Only the exact browser secret matches; its hash, prefixes and others do not."""
    assert tickets.secret_matches(pending(), given_secret) is ok


def test_ticket_keeps_only_the_secret_hash() -> None:
    """The stored ticket holds a hash of the browser secret, never the secret."""
    ticket = pending()
    assert SECRET not in repr(ticket) and ticket.browser_secret_hash == tickets.hash_secret(SECRET)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("阿卜杜·买买提", "阿******"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    """Names are masked to their first character and one star per other character."""
    assert tickets.mask_name(name) == masked


@FUZZ
@given(st.text(min_size=2, max_size=30))
def test_mask_name_never_returns_the_name(name: str) -> None:
    """Any name of two or more characters is masked, keeping only its first character and length."""
    masked = tickets.mask_name(name)
    assert masked != name or set(name[1:]) == {"*"}
    assert len(masked) == len(name) and masked[0] == name[0]


def test_ids_and_secrets_are_unguessable() -> None:
    """Ticket ids carry 128 random bits and browser secrets 256 (URL-safe text)."""
    ids = {tickets.new_ticket_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 22 for i in ids)
    assert len(tickets.new_browser_secret()) == 43


def test_a_face_answer_uses_up_the_tickets_current_challenge() -> None:
    """Only the challenge the ticket holds is answered, once: none held, another id, or the same
    id again after the answer is face_challenge_invalid. A new challenge replaces the old."""
    chosen = tickets.choose_account(
        tickets.offer_accounts(
            tickets.scan(pending(), device_id=PHONE, subject=SUBJECT, now=NOW + 1, lifetimes=LIFE),
            device_id=PHONE,
            accounts=ACCOUNTS,
            now=NOW + 2,
        ),
        device_id=PHONE,
        key="personal:",
        now=NOW + 3,
        challenge=CHALLENGE,
    )
    assert chosen.face_challenge == CHALLENGE and chosen.account["role"] == "personal"

    def answer(t: Ticket, challenge_id: str) -> Ticket:
        return tickets.record_face_check(
            t, device_id=PHONE, challenge_id=challenge_id, passed=True, now=T, max_failures=3
        )

    bare = dataclasses.replace(chosen, face_challenge=None)
    for ticket, challenge_id in ((bare, CHALLENGE.id), (chosen, "another")):
        assert code_of(lambda t=ticket, c=challenge_id: answer(t, c)) == "face_challenge_invalid"
    passed = answer(chosen, CHALLENGE.id)
    assert passed.face_passed and passed.face_challenge is None
    assert code_of(lambda: answer(passed, CHALLENGE.id)) == "face_challenge_invalid"
    newer = new_challenge(purpose="ticket:t", person="p", device=PHONE, now=T, ttl=120)
    renewed = tickets.issue_face_challenge(chosen, device_id=PHONE, challenge=newer, now=T)
    assert renewed.face_challenge == newer and renewed.version == chosen.version + 1
    assert code_of(lambda: answer(renewed, CHALLENGE.id)) == "face_challenge_invalid"
    issue = tickets.issue_face_challenge
    assert code_of(lambda: issue(chosen, device_id=OTHER, challenge=newer, now=T)) == (
        "not_ticket_device"
    )
    assert tickets.release(chosen, now=T, lifetimes=LIFE).face_challenge is None


def test_the_offer_brings_a_challenge_answered_with_the_choice() -> None:
    """The accounts can come with the face check's challenge; its answer may carry the account
    choice: one step (one version) that chooses, records the check and uses the challenge up.
    An account not offered, or another challenge, refuses the whole step; a failure keeps the
    choice and counts, as when the two are sent apart."""
    seen = tickets.scan(pending(), device_id=PHONE, subject=SUBJECT, now=NOW + 1, lifetimes=LIFE)
    offered = tickets.offer_accounts(
        seen, device_id=PHONE, accounts=ACCOUNTS, now=NOW + 2, challenge=CHALLENGE
    )
    assert offered.face_challenge == CHALLENGE and not offered.account

    def answer(key: str, challenge_id: str = CHALLENGE.id, passed: bool = True) -> Ticket:
        return tickets.choose_and_record_face_check(
            offered, device_id=PHONE, key=key, challenge_id=challenge_id, passed=passed,
            now=T, max_failures=MAX_FAILURES,
        )  # fmt: skip

    both = answer("agent:91230100MA1234567X")
    assert both.account["role"] == "agent" and both.face_passed and both.face_challenge is None
    assert (both.version, both.updated_at, both.state) == (offered.version + 1, T, State.SCANNED)
    assert tickets.check_confirmable(both, device_id=PHONE, now=T) is None
    assert code_of(lambda: answer("legal_rep:91230100MA1234567X")) == "account_not_offered"
    assert code_of(lambda: answer("personal:", "another")) == "face_challenge_invalid"
    failed = answer("personal:", passed=False)
    assert failed.account["key"] == "personal:" and failed.face_failures == 1
    assert not failed.face_passed and failed.face_challenge is None
    assert failed.version == offered.version + 1
    alone = tickets.choose_account(offered, device_id=PHONE, key="personal:", now=T)
    assert alone.face_challenge == CHALLENGE  # a choice on its own keeps the offered challenge


def test_only_what_the_browser_shows_is_a_change_for_it() -> None:
    """The scan, the confirmation and a rejection change the browser's view; choosing an account
    or passing the face check does not (their versions move all the same)."""
    fresh = pending()
    seen = tickets.scan(fresh, device_id=PHONE, subject=SUBJECT, now=NOW + 1, lifetimes=LIFE)
    offered = tickets.offer_accounts(seen, device_id=PHONE, accounts=ACCOUNTS, now=NOW + 2)
    chosen = tickets.choose_account(offered, device_id=PHONE, key="personal:", now=NOW + 3)
    faced = answer_face(chosen, PHONE, NOW + 4, passed=True, max_failures=3)
    done = tickets.confirm(faced, device_id=PHONE, redirect=REDIRECT, now=NOW + 5, lifetimes=LIFE)
    refused = tickets.reject(faced, device_id=PHONE, now=NOW + 5)
    assert [
        tickets.shows_change(a, b) for a, b in ((fresh, seen), (faced, done), (faced, refused))
    ] == [True] * 3
    assert [
        tickets.shows_change(a, b) for a, b in ((seen, offered), (offered, chosen), (chosen, faced))
    ] == [False] * 3
