"""The simulated organization registries, loaded once from data/registries.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal.rules.registration import RegistryRecord, Relationship

DEFAULT_PATH = Path(__file__).parent / "data" / "registries.json"


@dataclass(frozen=True)
class Registries:
    """All registry records by credit code (营商, 企业养老, 机关事业养老)."""

    by_code: Mapping[str, tuple[RegistryRecord, ...]]

    def lookup(self, credit_code: str) -> tuple[RegistryRecord, ...]:
        return self.by_code.get(credit_code, ())


def load(path: Path = DEFAULT_PATH) -> Registries:
    raw = json.loads(path.read_text(encoding="utf-8"))
    by_code: dict[str, list[RegistryRecord]] = {}
    for registry, body in raw["registries"].items():
        for company in body["companies"]:
            record = _record(registry, company)
            by_code.setdefault(record.credit_code, []).append(record)
    return Registries({code: tuple(records) for code, records in by_code.items()})


def _record(registry: str, company: dict[str, Any]) -> RegistryRecord:
    rep = company["legal_rep"]
    return RegistryRecord(
        registry=registry,
        credit_code=company["credit_code"],
        name=company["name"],
        legal_rep_id_number=rep["id_number"],
        legal_rep_name=rep["name"],
        address=company.get("address", ""),
        legal_rep_phone=rep.get("phone", ""),
        relationships=tuple(Relationship(**rel) for rel in company.get("relationships", ())),
    )
