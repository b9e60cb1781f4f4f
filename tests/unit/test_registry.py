"""The card registry: the seed-004 application rules, the file-backed simulation, acr levels."""

from __future__ import annotations

from pathlib import Path

import pytest

from authsvc import errors
from authsvc.core import acr
from authsvc.registry import CardState, FileRegistry, Person, check_application, check_usable
from authsvc.registry.file import write

ZHANG = Person(
    name="张三",
    id_number="11010519491231002X",
    ssc_no="H12345678",
    issuer_place="北京市",
    card_state=CardState.NORMAL,
    phone="13800138000",
)


def test_a_normal_card_holder_may_apply() -> None:
    """Known, same name, card 正常: the holder is returned."""
    assert check_application(ZHANG, name="张三") is ZHANG


@pytest.mark.parametrize(
    ("person", "name", "error"),
    [
        (None, "张三", errors.CardHolderUnknown),
        (ZHANG, "张四", errors.CardHolderNameMismatch),
        *[
            (Person(**{**ZHANG.as_dict(), "card_state": s}), "张三", errors.PhysicalCardAbnormal)  # type: ignore[arg-type]
            for s in (CardState.SEALED, CardState.LOST, CardState.APP_LOCKED, CardState.CANCELLED)
        ],
    ],
)
def test_seed_004_refusals(person: Person | None, name: str, error: type[Exception]) -> None:
    """无实体社保卡, a wrong name, 封存/挂失/应用锁定/注销: refused with a stable code."""
    with pytest.raises(error):
        check_application(person, name=name)


def test_scans_need_a_normal_card() -> None:
    """Each scan: 正常 passes; any other state, or no card, refuses."""
    check_usable(CardState.NORMAL)
    for state in (None, CardState.LOST, CardState.SEALED):
        with pytest.raises(errors.PhysicalCardAbnormal):
            check_usable(state)


async def test_file_registry_sees_changes_on_the_next_call(tmp_path: Path) -> None:
    """A change written by another process (or the CLI) is seen by the next lookup."""
    path = tmp_path / "registry.json"
    write(path, [ZHANG])
    registry, other = FileRegistry(path), FileRegistry(path)
    assert await registry.card_state(ZHANG.id_number) is CardState.NORMAL
    await other.set_card_state(ZHANG.id_number, CardState.LOST)
    assert await registry.card_state(ZHANG.id_number.lower()) is CardState.LOST
    assert (await registry.lookup(ZHANG.id_number)) == Person(
        **{**ZHANG.as_dict(), "card_state": CardState.LOST}  # type: ignore[arg-type]
    )
    assert await registry.lookup("110105194912310038") is None
    assert await FileRegistry(tmp_path / "missing.json").lookup(ZHANG.id_number) is None


def test_acr_levels() -> None:
    """Face required unless only the e-card level is asked; acr/amr as it happened."""
    assert acr.face_required({}) and acr.face_required({"acr_values": [acr.ACR_FACE]})
    assert not acr.face_required({"acr_values": [acr.ACR_ECARD]})
    assert acr.requested("urn:x " + acr.ACR_ECARD) == (acr.ACR_ECARD,)
    assert acr.achieved(False) == (acr.ACR_ECARD, ["qr", "ecard", "hwk"])
    assert acr.achieved(True)[1][-1] == "face"
