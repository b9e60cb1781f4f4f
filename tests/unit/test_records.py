"""The Store's record codec (store/records.py): `dumps` writes exactly what the dataclass's
`asdict` would, and every record reads back equal."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from authsvc.core import face
from authsvc.core.oidc.grant import Grant
from authsvc.store import records
from authsvc.store.records import AccessToken, FaceLock, IssuedTokens, SessionEntry

GRANT = Grant(
    ticket="t-1",
    client_id="hall",
    request={"redirect_uri": "https://hall.example/cb", "scope": ["openid"], "state": "甲"},
    subject={"name": "欧阳娜娜", "id_number": "11010519491231002X", "card": {"no": "c-1"}},
    account={"role": "legal_rep", "company": {"name": "某某公司", "units": ["A", "B"]}},
    auth_time=1_700_000_000,
    acr="urn:qrauth:acr:face",
    amr=("hwk", "face"),
    sid="sid-1",
    expires_at=1_700_000_060.25,
)
RECORDS = [
    GRANT,
    face.new_challenge(purpose="ticket:t-1", person="p-1", device="d-1", now=1.5, ttl=120),
    IssuedTokens(access_tokens=("a" * 64, "b" * 64), ticket="t-1", client_id="hall", person="p"),
    AccessToken(
        claims={"sub": "s", "name": "张三", "company": {"name": "某某公司"}, "units": ["1"]},
        client_id="hall",
        sid="sid-1",
        ticket="t-1",
        scope=("openid", "profile"),
        person="p-1",
        card_no="c-1",
    ),
    FaceLock(person="p-1", day="2026-12-02", since=3.25),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_dumps_writes_what_asdict_would_and_reads_back_equal(record: records.Record) -> None:
    """The shallow codec's JSON is the deep copy's, byte for byte; loads gives the record."""
    expected = json.dumps(asdict(record), ensure_ascii=False, separators=(",", ":"))
    assert records.dumps(record) == expected
    assert records.loads(type(record), records.dumps(record)) == record  # type: ignore[type-var]


def test_a_session_entry_reads_back_equal() -> None:
    """A session index member (JSON, scored by `until` on Redis) reads back equal."""
    entry = SessionEntry(sid="sid-1", client_id="hall", sub="张", until=1_700_000_000.1)
    assert records.loads_session(records.dumps_session(entry)) == entry
