"""The e-card part of the Store contract: one active card per person, atomically, on every
backend; status moves only from allowed states; the embedded records outlive a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from authsvc.store.base import BLOCKED, CONFLICT, ISSUED
from authsvc.store.sqlite import EmbeddedStore

from .conftest import AnyStore

NOW = 1_700_000_000.5
PERSON = "7f3a9c0e11aa22bb33cc44dd"


def card(card_no: str, device: str = "device-a") -> dict[str, Any]:
    return {"card_no": card_no, "status": "active", "device_id": device, "name": "欧阳娜娜"}


async def test_first_card_is_issued_and_current(store: AnyStore) -> None:
    """A person's first card: issued, readable by number, and the current one."""
    assert await store.issue_card(PERSON, card("E1"), expected="", now=NOW) == ISSUED
    assert (await store.get_card("E1"))["name"] == "欧阳娜娜"
    assert (await store.get_card("E1", person=PERSON))["status"] == "active"
    assert (await store.current_card(PERSON))["card_no"] == "E1"
    assert await store.get_card("E404") is None and await store.current_card("nobody") is None


async def test_rebinding_cancels_the_old_card_in_the_same_step(store: AnyStore) -> None:
    """换机: the new card becomes current and the old one is cancelled with reason rebound."""
    await store.issue_card(PERSON, card("E1"), expected="", now=NOW)
    assert await store.issue_card(PERSON, card("E2", "device-b"), expected="E1", now=NOW) == ISSUED
    old, new = await store.get_card("E1"), await store.get_card("E2")
    assert old["status"] == "cancelled" and old["reason"] == "rebound"
    assert new["status"] == "active" and (await store.current_card(PERSON))["card_no"] == "E2"


async def test_stale_expectation_is_a_conflict_and_writes_nothing(store: AnyStore) -> None:
    """An application that read the person's card before another one won changes nothing."""
    await store.issue_card(PERSON, card("E1"), expected="", now=NOW)
    assert await store.issue_card(PERSON, card("E2"), expected="", now=NOW) == CONFLICT
    assert await store.get_card("E2") is None
    assert (await store.get_card("E1"))["status"] == "active"


async def test_lost_or_suspended_card_blocks_a_new_one(store: AnyStore) -> None:
    """A lost (or suspended) card is never replaced by applying again: BLOCKED, nothing written."""
    await store.issue_card(PERSON, card("E1"), expected="", now=NOW)
    lost = await store.set_card_status(
        "E1", "lost", allowed=["active"], reason="report_lost", now=NOW
    )
    assert lost is not None and lost["status"] == "lost"
    assert await store.issue_card(PERSON, card("E2"), expected="E1", now=NOW) == BLOCKED
    assert await store.get_card("E2") is None
    assert (await store.current_card(PERSON))["status"] == "lost"


async def test_status_moves_only_from_allowed_states(store: AnyStore) -> None:
    """set_card_status refuses (None) from a state not allowed, and for an unknown card."""
    await store.issue_card(PERSON, card("E1"), expected="", now=NOW)
    assert (
        await store.set_card_status("E1", "active", allowed=["lost"], reason="x", now=NOW) is None
    )
    assert (await store.get_card("E1"))["status"] == "active"
    assert (
        await store.set_card_status("E9", "lost", allowed=["active"], reason="x", now=NOW) is None
    )


async def test_twenty_concurrent_applications_leave_one_active_card(store: AnyStore) -> None:
    """Twenty applications that all read "no card yet": exactly one is issued."""
    outcomes = await asyncio.gather(
        *(store.issue_card(PERSON, card(f"E{i}"), expected="", now=NOW) for i in range(20))
    )
    assert outcomes.count(ISSUED) == 1 and outcomes.count(CONFLICT) == 19
    cards = [await store.get_card(f"E{i}") for i in range(20)]
    assert [c["status"] for c in cards if c is not None] == ["active"]


async def test_embedded_records_outlive_a_restart(tmp_path: Path) -> None:
    """make demo, Ctrl-C, make demo: cards and audit are still there after reopening the file."""
    first = EmbeddedStore(tmp_path / "authsvc.db")
    await first.issue_card(PERSON, card("E1"), expected="", now=NOW)
    await first.set_card_status("E1", "lost", allowed=["active"], reason="report_lost", now=NOW)
    await first.audit({"event": "ecard", "outcome": "lost", "card": "E1"})
    await first.close()
    again = EmbeddedStore(tmp_path / "authsvc.db")
    try:
        assert (await again.current_card(PERSON))["status"] == "lost"
        assert (await again.audit_records(10))[-1]["outcome"] == "lost"
    finally:
        await again.close()
