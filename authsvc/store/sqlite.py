"""The embedded default: short-lived things (tickets, codes, counters, events) in memory, and the
records that must outlive a restart — e-cards with their device bindings, and the audit — in one
SQLite file. `make demo`, Ctrl-C, `make demo` again: the demo phones' e-cards are still known.

sqlite3 writes in a worker thread, one connection behind a lock; each Store step is one
transaction (`BEGIN IMMEDIATE`), so `issue_card` stays atomic across processes sharing the file.
Reads by key run on the event loop with a second, read-only connection (WAL: a reader never
waits for a writer), which costs less than a trip to the thread. Audit records are committed in
groups: each `audit` returns once a transaction holding its record has committed, and the records
that arrive while one commits go into the next (`store/grouped.py`, with the audit file).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from authsvc.core import fastjson
from authsvc.store import cards
from authsvc.store.base import ISSUED
from authsvc.store.deliveries import Delivery, same_entry
from authsvc.store.memory import MemoryStore

T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
  card_no TEXT PRIMARY KEY, person TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cards_person ON cards (person);
CREATE TABLE IF NOT EXISTS current_cards (person TEXT PRIMARY KEY, card_no TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class EmbeddedStore(MemoryStore):
    name = "embedded"

    def __init__(
        self,
        path: str | Path,
        *,
        audit_path: str = "",
        audit_keep: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(audit_path=audit_path, audit_keep=audit_keep, monotonic=monotonic)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._reader = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=1.0
        )
        self._reader.execute("PRAGMA query_only=1")

    def _transaction(self, step: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = step(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    async def _run(self, step: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._transaction, step)

    def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        return query(self._reader)

    # E-cards

    async def issue_card(
        self, person: str, card: dict[str, Any], *, expected: str, now: float
    ) -> str:
        def step(db: sqlite3.Connection) -> str:
            row = db.execute(
                "SELECT card_no FROM current_cards WHERE person = ?", (person,)
            ).fetchone()
            current = row[0] if row else ""
            old = _card(db, current) if current else None
            outcome, cancelled = cards.issue(current, old, expected=expected, now=now)
            if outcome != ISSUED:
                return outcome
            if cancelled is not None:
                _put(db, current, person, cancelled)
            _put(db, str(card["card_no"]), person, card)
            db.execute(
                "INSERT INTO current_cards (person, card_no) VALUES (?, ?) "
                "ON CONFLICT (person) DO UPDATE SET card_no = excluded.card_no",
                (person, card["card_no"]),
            )
            return outcome

        return await self._run(step)

    async def get_card(self, card_no: str, *, person: str = "") -> dict[str, Any] | None:
        return self._read(lambda db: _card(db, card_no))

    async def current_card(self, person: str) -> dict[str, Any] | None:
        def step(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute(
                "SELECT card_no FROM current_cards WHERE person = ?", (person,)
            ).fetchone()
            return _card(db, row[0]) if row else None

        return self._read(step)

    async def set_card_status(
        self,
        card_no: str,
        status: str,
        *,
        allowed: Collection[str],
        reason: str,
        now: float,
    ) -> dict[str, Any] | None:
        def step(db: sqlite3.Connection) -> dict[str, Any] | None:
            new = cards.moved(_card(db, card_no), status, allowed=allowed, reason=reason, now=now)
            if new is not None:
                db.execute("UPDATE cards SET record = ? WHERE card_no = ?", (_dumps(new), card_no))
            return new

        return await self._run(step)

    # Audit: durable here too, committed in groups (`GroupWriter`), the file's lines as well

    @property
    def _keeps_audit(self) -> bool:
        return True

    def _persist_audit(self, records: list[str]) -> None:
        rows = [(r,) for r in records]
        self._transaction(lambda db: db.executemany("INSERT INTO audit (record) VALUES (?)", rows))
        if self._audit_path is not None:
            super()._persist_audit(records)

    async def audit_records(self, limit: int = 100) -> list[dict[str, Any]]:
        if limit <= 0:
            return []

        def step(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT record FROM audit ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
            return [json.loads(r[0]) for r in reversed(rows)]

        return self._read(step)

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        await super().close()
        self._reader.close()
        with self._lock:
            self._db.close()

    # ── Back-channel logout deliveries: durable, and shared by processes on this file ─────

    async def schedule_delivery(self, delivery: Delivery) -> None:
        def step(db: sqlite3.Connection) -> None:
            _deliveries_table(db)
            _put_delivery(db, delivery)

        await self._run(step)

    async def claim_deliveries(
        self, now: float, *, lease: float, limit: int = 16
    ) -> list[Delivery]:
        def step(db: sqlite3.Connection) -> list[Delivery]:
            _deliveries_table(db)
            rows = db.execute(
                "SELECT client_id, sub, sid, attempt, due FROM deliveries WHERE due <= ? "
                "ORDER BY due LIMIT ?",
                (now, max(limit, 0)),
            ).fetchall()
            claimed = [Delivery(*row) for row in rows]
            for delivery in claimed:
                _put_delivery(db, delivery.leased(now, lease))
            return claimed

        return await self._run(step)

    async def finish_delivery(self, claimed: Delivery, then: Delivery | None) -> bool:
        same_entry(claimed, then)

        def step(db: sqlite3.Connection) -> bool:
            _deliveries_table(db)
            row = db.execute(
                "SELECT attempt FROM deliveries WHERE key = ?", (claimed.key,)
            ).fetchone()
            if row is None or row[0] != claimed.attempt + 1:
                return False
            if then is None:
                db.execute("DELETE FROM deliveries WHERE key = ?", (claimed.key,))
            else:
                _put_delivery(db, then)
            return True

        return await self._run(step)

    async def pending_deliveries(self) -> list[Delivery]:
        def step(db: sqlite3.Connection) -> list[Delivery]:
            _deliveries_table(db)
            query = "SELECT client_id, sub, sid, attempt, due FROM deliveries ORDER BY due"
            return [Delivery(*row) for row in db.execute(query).fetchall()]

        return await self._run(step)


def _card(db: sqlite3.Connection, card_no: str) -> dict[str, Any] | None:
    row = db.execute("SELECT record FROM cards WHERE card_no = ?", (card_no,)).fetchone()
    if row is None:
        return None
    record: dict[str, Any] = fastjson.loads(row[0])
    return record


def _put(db: sqlite3.Connection, card_no: str, person: str, record: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO cards (card_no, person, record) VALUES (?, ?, ?) "
        "ON CONFLICT (card_no) DO UPDATE SET record = excluded.record",
        (card_no, person, _dumps(record)),
    )


def _deliveries_table(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, client_id TEXT NOT NULL, "
        "sub TEXT NOT NULL, sid TEXT NOT NULL, attempt INTEGER NOT NULL, due REAL NOT NULL)"
    )


def _put_delivery(db: sqlite3.Connection, delivery: Delivery) -> None:
    db.execute(
        "INSERT INTO deliveries (key, client_id, sub, sid, attempt, due) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET sub = excluded.sub, attempt = excluded.attempt, "
        "due = excluded.due",
        (
            delivery.key,
            delivery.client_id,
            delivery.sub,
            delivery.sid,
            delivery.attempt,
            delivery.due,
        ),
    )
