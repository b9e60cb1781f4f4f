"""The embedded store's audit, committed in groups: every `audit` returns only once its record
is in the file, concurrent records share transactions, and a cancelled caller strands nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from authsvc.store.sqlite import EmbeddedStore


def _rows_on_disk(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:  # another connection: what a restart would see
        return [row[0] for row in db.execute("SELECT record FROM audit ORDER BY id")]


async def test_each_record_is_on_disk_when_audit_returns(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "authsvc.db")
    try:
        for i in range(3):
            await store.audit({"event": "ticket", "n": i})
            assert len(_rows_on_disk(tmp_path / "authsvc.db")) == i + 1
    finally:
        await store.close()


async def test_concurrent_records_all_land_in_fewer_transactions(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "authsvc.db")
    commits = 0
    transaction = store._transaction

    def counted(step):  # type: ignore[no-untyped-def]
        nonlocal commits
        commits += 1
        return transaction(step)

    store._transaction = counted  # type: ignore[method-assign]  # counts them, runs them all
    try:
        await asyncio.gather(*(store.audit({"event": "ticket", "n": i}) for i in range(50)))
        rows = _rows_on_disk(tmp_path / "authsvc.db")
        assert sorted(int(r.split('"n":')[1].rstrip("}")) for r in rows) == list(range(50))
        assert commits < 50, "records that arrive while one group commits share the next"
        assert [r["n"] for r in await store.audit_records(50)] == list(range(50))
    finally:
        await store.close()


async def test_a_cancelled_caller_leaves_the_others_records_to_be_written(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "authsvc.db")
    try:
        first = asyncio.create_task(store.audit({"event": "ticket", "n": 0}))
        others = [asyncio.create_task(store.audit({"event": "ticket", "n": i})) for i in (1, 2)]
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.gather(*others)
        assert {'{"event":"ticket","n":1}', '{"event":"ticket","n":2}'} <= set(
            _rows_on_disk(tmp_path / "authsvc.db")
        )
    finally:
        await store.close()
