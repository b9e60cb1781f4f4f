"""The embedded store keeps its audit trail as JSON lines in a file."""

from __future__ import annotations

import json
from pathlib import Path

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
