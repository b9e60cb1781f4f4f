"""The registry's contract: one Protocol, values without I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class CardState(StrEnum):
    """The physical card's state, as the seeds name them (seed 004)."""

    NORMAL = "正常"
    SEALED = "封存"
    LOST = "挂失"
    APP_LOCKED = "应用锁定"
    CANCELLED = "注销"


@dataclass(frozen=True, slots=True)
class Person:
    """A card holder: who they are, their physical card and what the face check compares with."""

    name: str
    id_number: str
    ssc_no: str  # 社会保障卡号
    issuer_place: str  # 发卡地
    card_state: CardState
    phone: str  # the phone reserved at the card (预留手机号)
    face_jwk: dict[str, Any] = field(default_factory=dict)  # the face reference (public half)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id_number": self.id_number,
            "ssc_no": self.ssc_no,
            "issuer_place": self.issuer_place,
            "card_state": str(self.card_state),
            "phone": self.phone,
            "face_jwk": dict(self.face_jwk),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Person:
        return cls(
            name=str(data["name"]),
            id_number=str(data["id_number"]).upper(),
            ssc_no=str(data.get("ssc_no", "")),
            issuer_place=str(data.get("issuer_place", "")),
            card_state=CardState(str(data.get("card_state", CardState.NORMAL))),
            phone=str(data.get("phone", "")),
            face_jwk=dict(data.get("face_jwk") or {}),
        )


class Registry(Protocol):
    """What the broker asks the provincial card system. A real one answers over HTTP."""

    async def lookup(self, id_number: str) -> Person | None:
        """The card holder with this ID number, or None (本人无实体社保卡)."""
        ...

    async def card_state(self, id_number: str) -> CardState | None:
        """The physical card's state now; asked on every scan, so it must be cheap."""
        ...

    async def set_card_state(self, id_number: str, state: CardState) -> Person:
        """A change at the registry (挂失 / 解挂 at the counter); KeyError if unknown."""
        ...
