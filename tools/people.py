"""The demo people as the simulated world has them: a card registry file (社保卡持卡人库, what the
province knows) and a faces folder (the people themselves), kept apart from any phone.

`seed` is idempotent: faces are made once; the registry keeps a state someone changed (挂失 at
the registry stays 挂失 after a restart) and gains the people it did not know yet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from authsvc.registry import CardState, FileRegistry, Person
from authsvc.registry.file import write
from mobile_sim import faces

ROOT = Path(__file__).resolve().parent.parent
DEMO_PEOPLE = ROOT / "portal" / "data" / "demo.json"
# The card states that make the demo tell its story (README "Demo identities").
DEMO_STATES = {"230102199208271785": CardState.LOST}  # 周磊: physical card 挂失
EXTRA_HOLDERS = [
    # 钱芳 holds a card that is 封存 (sealed): she cannot apply for an e-card.
    {
        "name": "钱芳",
        "id_number": "230104199303021883",
        "phone": "13804510009",
        "state": "封存",
        "note": "physical card 封存 (sealed): the registry refuses her e-card application",
    },
]
# 冯雪 has no physical social security card at all: not in the registry.
NOT_IN_REGISTRY = {
    "name": "冯雪",
    "id_number": "23010319800515162X",
    "phone": "13804510010",
    "note": "holds no physical card: not in the registry, no e-card",
}


def ssc_no(id_number: str) -> str:
    """A 社会保障卡号 as printed on the card: a letter and eight digits (stable per person)."""
    digits = int(hashlib.sha256(id_number.encode()).hexdigest(), 16) % 10**8
    return f"H{digits:08d}"


def demo_people() -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = json.loads(DEMO_PEOPLE.read_text(encoding="utf-8"))["people"]
    listed = [
        {**p, "state": str(DEMO_STATES.get(p["id_number"], CardState.NORMAL))} for p in people
    ]
    return listed + EXTRA_HOLDERS


def seed(
    registry_file: Path, faces_dir: Path, people: list[dict[str, Any]], *, derive_from: bytes = b""
) -> None:
    """Every person gets a face; every person gets a registry entry (state from `people`,
    unless the registry already holds one for them, which wins). `derive_from`: tests only."""
    known = {p.id_number: p for p in FileRegistry(registry_file).persons()}
    persons = []
    for person in people:
        face_jwk = faces.create(faces_dir, person["id_number"], derive_from=derive_from)
        kept = known.get(person["id_number"].upper())
        state = kept.card_state if kept else CardState(person.get("state", CardState.NORMAL))
        persons.append(
            Person(
                name=person["name"],
                id_number=person["id_number"].upper(),
                ssc_no=ssc_no(person["id_number"]),
                issuer_place=person.get("issuer_place", "黑龙江省哈尔滨市"),
                card_state=state,
                phone=person.get("phone", ""),
                face_jwk=face_jwk,
            )
        )
    listed = {p.id_number for p in persons}
    persons += [p for p in known.values() if p.id_number not in listed]
    write(registry_file, persons)
    faces.create(faces_dir, NOT_IN_REGISTRY["id_number"], derive_from=derive_from)
