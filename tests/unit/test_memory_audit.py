"""The embedded store keeps its audit trail as JSON lines in a file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from authsvc.store.memory import MemoryStore


async def test_audit_records_are_appended_as_json_lines(tmp_path: Path) -> None:
    """Each audit record is one JSON line, in order, Chinese kept readable."""
    path = tmp_path / "var" / "audit.jsonl"
    store = MemoryStore(audit_path=str(path))
    await store.audit({"event": "ticket", "outcome": "created", "name": "张*"})
    await store.audit({"event": "ticket", "outcome": "scanned"})
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["outcome"] for line in lines] == ["created", "scanned"]
    assert "张*" in lines[0]
    await store.close()


async def test_concurrent_records_share_one_write_and_keep_their_order(tmp_path: Path) -> None:
    """Records that arrive while a batch is written go out together in the next (`GroupWriter`):
    fewer trips to the worker thread than records, every line there, in order."""
    path = tmp_path / "audit.jsonl"
    store = MemoryStore(audit_path=str(path))
    batches: list[int] = []
    persist = store._persist_audit

    def counted(records: list[str]) -> None:
        batches.append(len(records))
        persist(records)

    store._audit_writer._write = counted  # counts the batches, writes them all
    await asyncio.gather(*(store.audit({"event": "ticket", "n": i}) for i in range(50)))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(50))
    assert sum(batches) == 50 and len(batches) < 50
    await store.close()


async def test_a_failed_write_fails_its_callers(tmp_path: Path) -> None:
    """A file that cannot be written (here: the path is a folder) is an error for the caller,
    not a record silently lost; the next batch is tried afresh."""
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    store = MemoryStore(audit_path=str(path))
    with pytest.raises(IsADirectoryError):
        await store.audit({"event": "ticket", "n": 1})
    path.rmdir()
    await store.audit({"event": "ticket", "n": 2})
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [2]
    await store.close()
