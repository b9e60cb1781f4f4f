"""E-card records: issuance against the card registry, re-binding (换机), status changes, and
the check every phone call makes.

Issuance (issue 8): the registry must know the person, under this name, with a physical card in
normal state (seed 004); the face check is the server's; one active card per person is the
Store's atomic `issue_card`; a lost or suspended card is never re-activated by applying again
(卡解挂 is its own operation)."""

from __future__ import annotations

from typing import Any

from authsvc import errors
from authsvc.core import ecard
from authsvc.core.ecard import Application, Card, CardStatus
from authsvc.core.idnumber import mask, mask_phone
from authsvc.keyring import Purpose
from authsvc.registry import check_application, check_usable, person_key
from authsvc.registry.base import Person
from authsvc.services import face, logout
from authsvc.services.broker import Broker
from authsvc.store.base import BLOCKED, CONFLICT

REBOUND = (
    "您的电子社保卡已在其他手机上重新申领，本机电子社保卡已失效",
    "Your e-card was re-issued to another phone; this phone's card no longer works",
)


async def holder_for(broker: Broker, application: Application) -> Person:
    """The registry's card holder for this application, or the seeds' refusal."""
    person = await broker.registry.lookup(application.id_number)
    return check_application(person, name=application.name)


async def require_not_blocked(broker: Broker, id_number: str) -> dict[str, Any] | None:
    current = await broker.store.current_card(person_key(id_number))
    if current is not None and current["status"] in (CardStatus.LOST, CardStatus.SUSPENDED):
        raise errors.EcardBlocked(current["status"])
    return current


async def issue(
    broker: Broker, application: Application, holder: Person, *, expected: str
) -> dict[str, Any]:
    """Issue a card bound to the device; the person's earlier active card is cancelled in the
    same atomic step (re-binding). `expected` is the current card number read before the face
    check: if it changed meanwhile, this application lost the race."""
    now = broker.now()
    card_no = ecard.new_card_number()
    claims = ecard.card_claims(application, card_no=card_no, issuer=broker.settings.issuer, now=now)
    _, key = broker.keyring.jose_signing_key(Purpose.ECARD)
    token = ecard.issue(claims, key)
    record = {
        "card_no": card_no,
        "status": str(CardStatus.ACTIVE),
        "reason": "",
        "device_id": claims["cnf"]["jkt"],
        "name": application.name,
        "id_number_masked": mask(application.id_number),
        "phone_masked": mask_phone(application.phone),
        "ssc_no": holder.ssc_no,
        "issuer_place": holder.issuer_place,
        "issued_at": now,
        "person": person_key(application.id_number),
    }
    person = record["person"]
    outcome = await broker.store.issue_card(person, record, expected=expected, now=now)
    if outcome == BLOCKED:
        raise errors.EcardBlocked("lost or suspended meanwhile")
    if outcome == CONFLICT:
        raise errors.EcardApplicationConflict("current card changed")
    await broker.store.audit(
        {
            "time": now,
            "event": "ecard",
            "outcome": "issued",
            "card": card_no,
            "person": person,
            "replaced": expected,
        }
    )
    return {"card_no": card_no, "ecard": token, "status": record["status"]}


async def apply(broker: Broker, application: Application, body: dict[str, Any]) -> dict[str, Any]:
    """电子社保卡申领: registry, then no blocked card, then the server's face check, then the
    atomic issue. Every refusal comes before anything is written."""
    holder = await holder_for(broker, application)
    current = await require_not_blocked(broker, application.id_number)
    device = ecard.device_thumbprint(application)
    answer = body.get("face")
    if not isinstance(answer, dict):
        raise errors.FaceCheckRequired("no face answer")
    result = await face.answer(
        broker,
        answer,
        purpose=face.application_purpose(device),
        id_number=application.id_number,
        device=device,
    )
    if not result.passed:
        raise errors.FaceCheckFailed(f"application score {result.score}")
    expected = current["card_no"] if current else ""
    return await issue(broker, application, holder, expected=expected)


async def record_of(broker: Broker, card_no: str, *, person: str = "") -> dict[str, Any]:
    record = await broker.store.get_card(card_no, person=person)
    if record is None:
        raise errors.EcardNotFound(card_no[:32])
    return record


async def set_status(broker: Broker, card_no: str, action: str, *, actor: str) -> dict[str, Any]:
    """卡挂失 / 解挂 / 暂停 / 注销 as one compare-and-set on the card's status."""
    record = await record_of(broker, card_no)
    target = ecard.next_status(record["status"], action)
    allowed, _ = ecard.CARD_ACTIONS[action]
    changed = await broker.store.set_card_status(
        card_no, str(target), allowed=[str(s) for s in allowed], reason=action, now=broker.now()
    )
    if changed is None:
        raise errors.TicketStateConflict(
            f"{action} raced",
            zh="电子社保卡当前状态不允许此操作",
            en="Not allowed in the card's state",
        )
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "ecard",
            "outcome": str(target),
            "card": card_no,
            "actor": actor,
        }
    )
    return changed


async def apply_action(broker: Broker, card_no: str, action: str) -> dict[str, Any]:
    """The operator's change of an e-card's status (admin API and CLI)."""
    record = await set_status(broker, card_no, action, actor="admin")
    if record["status"] in (CardStatus.LOST, CardStatus.SUSPENDED, CardStatus.CANCELLED):
        await logout.end_person_sessions(broker, record["person"], reason=f"ecard_{action}")
    return record


def verified_card(broker: Broker, token: str) -> Card:
    """The card in an `X-Ecard` header: signed by our issuer key, unexpired (no I/O: a card
    already verified against the current key set is remembered)."""
    now = broker.now()
    keys = broker.keyring.jose_keyset(Purpose.ECARD, now=now)
    card = broker.cards.get(token, keys, now)
    if card is None:
        card = ecard.read(token, keys, issuer=broker.settings.issuer, now=now)
        broker.cards.put(token, keys, card)
    return card


async def check_record(
    broker: Broker, card: Card, record: dict[str, Any] | None, *, require_active: bool = True
) -> None:
    """The card's stored record says it is still this device's and (unless only its status is
    being read) active, with its physical card in normal state at the registry (asked every
    time: 挂失 at the registry acts on the next scan)."""
    if record is None:
        raise errors.EcardInvalid("no record")
    if record["device_id"] != card.device_id:
        raise errors.DeviceMismatch("card re-bound to another device")
    if require_active:
        if record["status"] == CardStatus.CANCELLED and record.get("reason") == "rebound":
            zh, en = REBOUND
            raise errors.EcardNotActive("rebound", zh=zh, en=en)
        ecard.require_active(record["status"])
        check_usable(await broker.registry.card_state(card.id_number))


async def unlock(broker: Broker, card: Card, body: dict[str, Any]) -> dict[str, Any]:
    """卡解挂 (seed 004) by the card holder: a lost card back to active, only after a fresh
    server-side face check bound to this card and device."""
    person = person_key(card.id_number)
    record = await record_of(broker, card.card_no, person=person)
    if record["status"] != CardStatus.LOST:
        raise errors.TicketStateConflict(
            f"unlock from {record['status']}",
            zh="电子社保卡未挂失，无需解挂",
            en="The e-card is not reported lost",
        )
    answer = body.get("face") if isinstance(body.get("face"), dict) else body
    result = await face.answer(
        broker,
        answer,
        purpose=face.unlock_purpose(card.card_no),
        id_number=card.id_number,
        device=card.device_id,
    )
    if not result.passed:
        raise errors.FaceCheckFailed(f"unlock score {result.score}")
    changed = await broker.store.set_card_status(
        card.card_no,
        str(CardStatus.ACTIVE),
        allowed=[CardStatus.LOST],
        reason="unlock",
        now=broker.now(),
    )
    if changed is None:
        raise errors.TicketStateConflict("unlock raced")
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "ecard",
            "outcome": "active",
            "card": card.card_no,
            "actor": "holder",
        }
    )
    return changed
