"""The simulated provincial card registry: one JSON file, `{"persons": [...]}`.

The file is the registry's own durable record: a change written by `authsvc registry
set-state` (or any process) is seen on the next call, because each call compares the file's
mtime, size and inode (one stat) before answering from memory."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

from authsvc.registry.base import CardState, Person


class FileRegistry:
    def __init__(self, path: str | Path) -> None:
        """An empty `path` is a registry with nobody in it."""
        self.path = Path(path) if str(path) else None
        self._persons: dict[str, Person] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _fresh(self) -> dict[str, Person]:
        if self.path is None:
            return {}
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            self._persons, self._stamp = {}, None
            return self._persons
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp != self._stamp:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            persons = [Person.from_dict(p) for p in data.get("persons", [])]
            self._persons = {p.id_number: p for p in persons}
            self._stamp = stamp
        return self._persons

    async def lookup(self, id_number: str) -> Person | None:
        return self._fresh().get(id_number.upper())

    async def card_state(self, id_number: str) -> CardState | None:
        person = self._fresh().get(id_number.upper())
        return None if person is None else person.card_state

    async def set_card_state(self, id_number: str, state: CardState) -> Person:
        return await asyncio.to_thread(self.set_card_state_sync, id_number, state)

    def set_card_state_sync(self, id_number: str, state: CardState) -> Person:
        if self.path is None:
            raise KeyError(id_number)
        with self._lock:
            persons = dict(self._fresh())
            person = persons[id_number.upper()]
            changed = Person.from_dict({**person.as_dict(), "card_state": str(state)})
            persons[changed.id_number] = changed
            write(self.path, list(persons.values()))
            return changed

    def persons(self) -> list[Person]:
        return list(self._fresh().values())


def write(path: str | Path, persons: list[Person]) -> None:
    """Write the registry file atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {"persons": [p.as_dict() for p in persons]}
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target)
