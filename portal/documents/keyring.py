"""The portal's certificate signing keys on disk: load, generate on first use, rotate, retire,
and the JWK Set the phone pins (mobile_sim/README.md, "Certificate QR contract").

Same shape as authsvc's keyring (the portal does not import authsvc): `keyring.json` is the
index, one `cert-{kid}.pem` (PKCS#8, mode 0600) per private key. A rotated-out key stays
published — and keeps verifying — until every certificate it signed has expired (six months,
seed 002 单位权益单 "有效期内(6个月)"), so its grace period is the certificate validity plus a
day. Retiring a key removes it from the JWKS: that revokes everything it signed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeyParameters, OKPKey

ALGORITHMS = ("ES256", "Ed25519")  # the phone accepts exactly these (RFC 9864 names)
DEFAULT_ALGORITHM = "ES256"
# Longest certificate validity (six calendar months ≤ 184 days) plus a day of clock margin.
GRACE = dt.timedelta(days=185)


class KeyStatus(StrEnum):
    CURRENT = "current"
    PREVIOUS = "previous"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    alg: str
    created_at: str  # ISO 8601, naive UTC (portal.clock)
    status: KeyStatus
    retire_after: str = ""

    def published(self, now: dt.datetime) -> bool:
        """In the JWKS: the current key, and a previous one until its grace period ends."""
        if self.status is KeyStatus.CURRENT:
            return True
        return self.status is KeyStatus.PREVIOUS and now < dt.datetime.fromisoformat(
            self.retire_after
        )


class CertKeyring:
    """Certificate keys of one portal; every portal process shares the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.records: list[KeyRecord] = []
        self._private: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] = (0, 0, 0)

    @classmethod
    def open(
        cls, folder: str | Path, *, now: dt.datetime, alg: str = DEFAULT_ALGORITHM
    ) -> CertKeyring:
        """Load the folder, generating a first key when there is no current one."""
        keyring = cls(Path(folder))
        keyring.folder.mkdir(parents=True, exist_ok=True)
        with keyring._locked():
            keyring._load()
            if not any(r.status is KeyStatus.CURRENT for r in keyring.records):
                keyring._add(alg, now)
        return keyring

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time across processes: two portals starting on an empty folder make
        one first key, and a rotation never loses another process's change."""
        fd = os.open(self.folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # --- disk ----------------------------------------------------------------------------
    @property
    def _index(self) -> Path:
        return self.folder / "keyring.json"

    def _pem(self, kid: str) -> Path:
        return self.folder / f"cert-{kid}.pem"

    def _index_stamp(self) -> tuple[int, int, int]:
        if not self._index.exists():
            return (0, 0, 0)
        stat = self._index.stat()
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _load(self) -> None:
        self._stamp = self._index_stamp()
        if not self._index.exists():
            self.records, self._private = [], {}
            return
        raw = json.loads(self._index.read_text())
        self.records = [
            KeyRecord(
                kid=r["kid"],
                alg=r["alg"],
                created_at=r["created_at"],
                status=KeyStatus(r["status"]),
                retire_after=r.get("retire_after", ""),
            )
            for r in raw["keys"]
        ]
        self._private = {}
        for record in self.records:
            pem = self._pem(record.kid)
            if record.status is not KeyStatus.RETIRED and pem.exists():
                kind = ECKey if record.alg == "ES256" else OKPKey
                self._private[record.kid] = kind.import_key(
                    pem.read_bytes(), parameters=KeyParameters(kid=record.kid, alg=record.alg)
                )

    def reload_if_changed(self) -> bool:
        """Pick up a rotation made by `portal keys rotate` in another process."""
        if self._index_stamp() == self._stamp:
            return False
        self._load()
        return True

    def _save(self) -> None:
        body = {"keys": [{**asdict(r), "status": str(r.status)} for r in self.records]}
        tmp = self._index.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=2))
        tmp.replace(self._index)
        self._stamp = self._index_stamp()

    def _add(self, alg: str, now: dt.datetime) -> KeyRecord:
        if alg not in ALGORITHMS:
            raise ValueError(f"algorithm {alg!r}: use one of {', '.join(ALGORITHMS)}")
        kid = f"cert-{now:%Y%m%d}-{secrets.token_hex(4)}"
        params = KeyParameters(kid=kid, alg=alg)
        key = (
            ECKey.generate_key("P-256", parameters=params, private=True)
            if alg == "ES256"
            else OKPKey.generate_key("Ed25519", parameters=params, private=True)
        )
        fd = os.open(self._pem(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.as_pem(private=True))
        record = KeyRecord(kid, alg, now.isoformat(), KeyStatus.CURRENT)
        self.records.append(record)
        self._private[kid] = key
        self._save()
        return record

    # --- changes -------------------------------------------------------------------------
    def rotate(
        self, *, now: dt.datetime, alg: str | None = None, grace: dt.timedelta = GRACE
    ) -> KeyRecord:
        """A new current key; the old one stays published for `grace` (six months and a day)."""
        with self._locked():
            self._load()
            old = self.current_record()
            until = (now + grace).isoformat()
            self.records = [
                replace(r, status=KeyStatus.PREVIOUS, retire_after=until) if r is old else r
                for r in self.records
            ]
            return self._add(alg or old.alg, now)

    def retire(self, kid: str) -> KeyRecord:
        """Withdraw a rotated-out key from the JWKS: every certificate it signed stops verifying."""
        with self._locked():
            self._load()
            record = next((r for r in self.records if r.kid == kid), None)
            if record is None:
                raise KeyError(kid)
            if record.status is KeyStatus.CURRENT:
                raise ValueError("rotate before retiring the current key")
            retired = replace(record, status=KeyStatus.RETIRED)
            self.records = [retired if r is record else r for r in self.records]
            self._pem(kid).unlink(missing_ok=True)
            self._private.pop(kid, None)
            self._save()
            return retired

    # --- use -----------------------------------------------------------------------------
    def current_record(self) -> KeyRecord:
        return next(r for r in self.records if r.status is KeyStatus.CURRENT)

    def signing_key(self) -> tuple[KeyRecord, Any]:
        """The current record and its joserfc private key (after picking up a rotation)."""
        self.reload_if_changed()
        record = self.current_record()
        return record, self._private[record.kid]

    def jwks(self, *, now: dt.datetime, issuer: str) -> dict[str, Any]:
        """The public JWK Set the phone pins; `issuer` names whose certificates these keys sign."""
        self.reload_if_changed()
        keys = [
            {
                **self._private[r.kid].as_dict(private=False),
                "kid": r.kid,
                "alg": r.alg,
                "use": "sig",
            }
            for r in self.records
            if r.published(now) and r.kid in self._private
        ]
        return {"issuer": issuer, "keys": keys}
