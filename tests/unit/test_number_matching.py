"""Number matching in the ticket state machine (pure: no sockets)."""

from __future__ import annotations

import pytest

from authsvc import errors
from authsvc.core import tickets as tk
from authsvc.core.tickets import Identity, Lifetimes, State

NOW = 1_800_000_000.0
LIFETIMES = Lifetimes()


def _scanned(challenge: tuple[str, tuple[str, ...]] | None) -> tk.Ticket:
    ticket = tk.create(
        client_id="c",
        identity=Identity.PERSONAL,
        browser_ip="203.0.113.1",
        browser_ua="ua",
        browser_secret="s",
        now=NOW,
        lifetimes=LIFETIMES,
    )
    return tk.scan(
        ticket,
        device_id="d",
        subject={"name": "张三"},
        now=NOW,
        lifetimes=LIFETIMES,
        challenge=challenge,
    )


def test_challenge_is_three_distinct_two_digit_numbers_with_the_answer_among_them() -> None:
    """Every challenge: the number is one of three different numbers 10–99."""
    for _ in range(200):
        number, choices = tk.new_number_challenge()
        assert number in choices and len(set(choices)) == 3
        assert all(10 <= int(c) <= 99 for c in choices)


def test_right_pick_matches_and_hides_the_number() -> None:
    """The right pick marks the ticket matched; the browser event no longer shows the number."""
    ticket = _scanned(("47", ("12", "47", "83")))
    assert tk.event(ticket)["number"] == "47"
    matched = tk.match_number(ticket, device_id="d", picked="47", now=NOW)
    assert matched.number_matched and matched.state is State.SCANNED
    assert "number" not in tk.event(matched)


@pytest.mark.parametrize("picked", ["12", "83", "", "4７", "047"])
def test_wrong_pick_rejects(picked: str) -> None:
    """Any other pick rejects the ticket with reason number_mismatch."""
    rejected = tk.match_number(
        _scanned(("47", ("12", "47", "83"))), device_id="d", picked=picked, now=NOW
    )
    assert rejected.state is State.REJECTED and rejected.reason == "number_mismatch"


def test_only_the_scanning_phone_picks_and_only_once() -> None:
    """Another device: not_ticket_device; a second pick, or a pick without a number: conflict."""
    ticket = _scanned(("47", ("12", "47", "83")))
    with pytest.raises(errors.NotTicketDevice):
        tk.match_number(ticket, device_id="other", picked="47", now=NOW)
    matched = tk.match_number(ticket, device_id="d", picked="47", now=NOW)
    for subject in (matched, _scanned(None)):
        with pytest.raises(errors.TicketStateConflict):
            tk.match_number(subject, device_id="d", picked="47", now=NOW)


def test_confirm_needs_the_number_and_release_forgets_it() -> None:
    """check_confirmable refuses number_match_required first; release clears the challenge."""
    ticket = _scanned(("47", ("12", "47", "83")))
    with pytest.raises(errors.NumberMatchRequired):
        tk.check_confirmable(ticket, device_id="d", now=NOW)
    released = tk.release(ticket, now=NOW, lifetimes=LIFETIMES)
    assert (released.match_number, released.match_choices, released.number_matched) == (
        "",
        (),
        False,
    )
