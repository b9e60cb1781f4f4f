"""The registry's rules, without I/O: who may apply for an e-card, whose e-card may be used."""

from __future__ import annotations

import hashlib

from authsvc import errors
from authsvc.registry.base import CardState, Person


def person_key(id_number: str) -> str:
    """A short stable key for one person; never the ID number itself in keys or logs."""
    return hashlib.sha256(f"person|{id_number.upper()}".encode()).hexdigest()[:24]


def _abnormal(state: CardState) -> errors.QrAuthError:
    return errors.PhysicalCardAbnormal(
        str(state),
        zh=f"实体卡状态异常（{state}），影响电子社保卡的正常申领和使用",
        en=f"The physical social security card is not in normal state ({state.name.lower()})",
    )


def check_application(person: Person | None, *, name: str) -> Person:
    """Seed 004: 如本人无实体社保卡、实体卡状态异常（封存、挂失、应用锁定、注销等）……都会影响
    电子社保卡的正常申领. Returns the card holder, or raises with a stable code."""
    if person is None:
        raise errors.CardHolderUnknown()
    if person.name != name:
        raise errors.CardHolderNameMismatch()
    if person.card_state is not CardState.NORMAL:
        raise _abnormal(person.card_state)
    return person


def check_usable(state: CardState | None) -> None:
    """An e-card works only while its physical card is in normal state (checked on every scan)."""
    if state is None:
        raise errors.PhysicalCardAbnormal("not in registry")
    if state is not CardState.NORMAL:
        raise _abnormal(state)
