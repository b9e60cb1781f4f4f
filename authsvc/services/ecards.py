"""E-card records in the store: issuance, status changes, and the check every phone call makes."""

from __future__ import annotations

from typing import Any

from authsvc import errors
from authsvc.core import ecard
from authsvc.core.ecard import Application, Card, CardStatus
from authsvc.core.idnumber import mask, mask_phone
from authsvc.keyring import Purpose
from authsvc.services.broker import Broker

CARD_RECORD_TTL = 10 * 365 * 24 * 3600.0


def _card_key(card_no: str) -> str:
    return f"ecard:{card_no}"


def _person_key(id_number: str) -> str:
    return f"ecard-person:{id_number}"


async def issue(broker: Broker, application: Application) -> dict[str, Any]:
    """Issue a card bound to the device; a person's earlier card is cancelled (re-binding)."""
    now = broker.now()
    store = broker.store
    previous = await store.get_value(_person_key(application.id_number))
    if previous:
        await set_status(broker, previous["card_no"], CardStatus.CANCELLED, actor="reissue")
    card_no = ecard.new_card_number()
    claims = ecard.card_claims(application, card_no=card_no, issuer=broker.settings.issuer, now=now)
    _, key = broker.keyring.jose_signing_key(Purpose.ECARD)
    token = ecard.issue(claims, key)
    record = {
        "card_no": card_no,
        "status": str(CardStatus.ACTIVE),
        "device_id": claims["cnf"]["jkt"],
        "name": application.name,
        "id_number_masked": mask(application.id_number),
        "phone_masked": mask_phone(application.phone),
        "issued_at": now,
    }
    await store.put_value(_card_key(card_no), record, ttl=CARD_RECORD_TTL)
    await store.put_value(
        _person_key(application.id_number), {"card_no": card_no}, ttl=CARD_RECORD_TTL
    )
    await store.audit({"time": now, "event": "ecard", "outcome": "issued", "card": card_no})
    return {"card_no": card_no, "ecard": token, "status": record["status"]}


async def record_of(broker: Broker, card_no: str) -> dict[str, Any]:
    record = await broker.store.get_value(_card_key(card_no))
    if record is None:
        raise errors.EcardNotFound(card_no[:32])
    return record


async def set_status(
    broker: Broker, card_no: str, status: CardStatus, *, actor: str
) -> dict[str, Any]:
    record = await record_of(broker, card_no)
    record["status"] = str(status)
    await broker.store.put_value(_card_key(card_no), record, ttl=CARD_RECORD_TTL)
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "ecard",
            "outcome": str(status),
            "card": card_no,
            "actor": actor,
        }
    )
    return record


async def apply_action(broker: Broker, card_no: str, action: str) -> dict[str, Any]:
    record = await record_of(broker, card_no)
    return await set_status(
        broker, card_no, ecard.next_status(record["status"], action), actor="admin"
    )


async def active_card(broker: Broker, token: str, *, require_active: bool = True) -> Card:
    """The card in an `X-Ecard` header: signed by our issuer key, still this device's, and
    (unless only its status is being read) active."""
    now = broker.now()
    keys = broker.keyring.jose_keyset(Purpose.ECARD, now=now)
    card = broker.cards.get(token, keys, now)
    if card is None:
        card = ecard.read(token, keys, issuer=broker.settings.issuer, now=now)
        broker.cards.put(token, keys, card)
    record = await broker.store.get_value(_card_key(card.card_no))
    if record is None:
        raise errors.EcardInvalid("no record")
    if record["device_id"] != card.device_id:
        raise errors.DeviceMismatch("card re-bound to another device")
    if require_active:
        ecard.require_active(record["status"])
    return card
