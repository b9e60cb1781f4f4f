"""Per-purpose signing keys on disk: load, generate on first start, rotate, retire, JWKS views.

Layout of the keys folder: `keyring.json` (the index) and one `{purpose}-{kid}.pem` per private
key, mode 0600. A rotated-out key stays published (and verifying) until its grace period ends
or it is retired; a retired key's signatures are refused.

Rotation without a refused signature, across processes (docs/operations.md): `add` publishes a
NEXT key that verifies but does not sign; once every process has reloaded the index and every
relying party's JWKS cache has refreshed, `promote` makes it CURRENT and the old one PREVIOUS
(verifying for its purpose's grace); `retire` after that grace.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc.jwk import KeySet, import_key

from authsvc import errors
from authsvc.core.crypto import (
    Algorithm,
    PrivateKey,
    PublicKey,
    VerifyingKey,
    generate,
    public_jwk,
)


class Purpose(StrEnum):
    QR = "qr"
    TOKEN = "token"  # noqa: S105 - a purpose name, not a secret
    ECARD = "ecard"


DEFAULT_ALGORITHMS = {
    Purpose.QR: Algorithm.ED25519,
    Purpose.TOKEN: Algorithm.ES256,
    Purpose.ECARD: Algorithm.ED25519,
}
#: Algorithms kept current beside the default one, selected by `alg`: RS256 for the ID tokens
#: of relying parties registered for it (OpenID Connect Discovery §3 requires offering RS256).
ADDITIONAL_ALGORITHMS: dict[Purpose, tuple[Algorithm, ...]] = {Purpose.TOKEN: (Algorithm.RS256,)}


class KeyStatus(StrEnum):
    NEXT = "next"  # published and verifying, not yet signing
    CURRENT = "current"
    PREVIOUS = "previous"
    RETIRED = "retired"


KeyringError = errors.KeyringRefused
UnknownKid = errors.UnknownKey


@dataclass(frozen=True, slots=True)
class KeyRecord:
    purpose: Purpose
    kid: str
    alg: Algorithm
    created_at: float
    status: KeyStatus
    retire_after: float = 0.0

    def usable(self, now: float) -> bool:
        if self.status is KeyStatus.RETIRED:
            return False
        if self.status in (KeyStatus.CURRENT, KeyStatus.NEXT):
            return True
        return now < self.retire_after


class Keyring:
    def __init__(
        self, folder: Path, records: list[KeyRecord], private: dict[str, PrivateKey]
    ) -> None:
        self.folder = folder
        self.records = records
        self._private = private
        self._mtime = self._index_mtime()
        self._keysets: dict[tuple[Purpose, tuple[str, ...]], KeySet] = {}
        self._jose_private: dict[str, Any] = {}

    # --- loading -------------------------------------------------------------------------
    @classmethod
    def load_or_create(
        cls, folder: str | Path, *, now: float, algorithms: dict[Purpose, Algorithm] | None = None
    ) -> Keyring:
        """Load the keys folder, generating a first key for every purpose that has none."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        keyring = cls._load(path)
        algs = {**DEFAULT_ALGORITHMS, **(algorithms or {})}
        for purpose in Purpose:
            if not any(
                r.purpose is purpose and r.status is KeyStatus.CURRENT for r in keyring.records
            ):
                keyring._add(purpose, algs[purpose], now)
            for alg in ADDITIONAL_ALGORITHMS.get(purpose, ()):
                if not keyring._current_with(purpose, alg):
                    keyring._add(purpose, alg, now)
        return keyring

    @classmethod
    def _load(cls, folder: Path) -> Keyring:
        index = folder / "keyring.json"
        if not index.exists():
            return cls(folder, [], {})
        raw = json.loads(index.read_text())
        records = [
            KeyRecord(
                purpose=Purpose(r["purpose"]),
                kid=r["kid"],
                alg=Algorithm(r["alg"]),
                created_at=r["created_at"],
                status=KeyStatus(r["status"]),
                retire_after=r.get("retire_after", 0.0),
            )
            for r in raw["keys"]
        ]
        private: dict[str, PrivateKey] = {}
        for record in records:
            pem = folder / f"{record.purpose}-{record.kid}.pem"
            if record.status is not KeyStatus.RETIRED and pem.exists():
                key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
                private[record.kid] = key  # type: ignore[assignment]
        return cls(folder, records, private)

    def _index_mtime(self) -> tuple[int, int, int]:
        """The index's identity: `_save` replaces the file, so the inode changes on every save."""
        index = self.folder / "keyring.json"
        if not index.exists():
            return (0, 0, 0)
        stat = index.stat()
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def reload_if_changed(self) -> bool:
        """Pick up a rotation made by `authsvc keys rotate` in another process."""
        if self._index_mtime() == self._mtime:
            return False
        fresh = self._load(self.folder)
        self.records, self._private, self._mtime = fresh.records, fresh._private, fresh._mtime
        return True

    # --- changes -------------------------------------------------------------------------
    def _add(
        self, purpose: Purpose, alg: Algorithm, now: float, status: KeyStatus = KeyStatus.CURRENT
    ) -> KeyRecord:
        kid = secrets.token_hex(8)
        key = generate(alg)
        pem = self.folder / f"{purpose}-{kid}.pem"
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        record = KeyRecord(purpose, kid, alg, now, status)
        self.records.append(record)
        self._private[kid] = key
        self._save()
        return record

    def rotate(
        self, purpose: Purpose, *, now: float, grace: float, alg: Algorithm | None = None
    ) -> KeyRecord:
        """A new current key; the old one verifies for `grace` seconds more. With `alg`, the
        current key of that algorithm is the one replaced (if there is one)."""
        old = self._current_with(purpose, alg) if alg else None
        old = old or self.current_record(purpose)
        self.records = [
            replace(r, status=KeyStatus.PREVIOUS, retire_after=now + grace) if r is old else r
            for r in self.records
        ]
        return self._add(purpose, alg or old.alg, now)

    def add(self, purpose: Purpose, *, now: float, alg: Algorithm | None = None) -> KeyRecord:
        """Publish a NEXT key: it verifies (and is in the JWKS) but nothing is signed with it."""
        if self.next_record(purpose) is not None:
            raise KeyringError(f"{purpose} already has a next key: promote or retire it first")
        return self._add(purpose, alg or self.current_record(purpose).alg, now, KeyStatus.NEXT)

    def promote(self, purpose: Purpose, *, now: float, grace: float) -> KeyRecord:
        """The NEXT key signs from now on; the current one verifies for `grace` seconds more."""
        upcoming = self.next_record(purpose)
        if upcoming is None:
            raise KeyringError(f"{purpose} has no next key: run `authsvc keys add {purpose}`")
        old = self.current_record(purpose)
        changes = {
            old.kid: replace(old, status=KeyStatus.PREVIOUS, retire_after=now + grace),
            upcoming.kid: replace(upcoming, status=KeyStatus.CURRENT),
        }
        self.records = [changes.get(r.kid, r) for r in self.records]
        self._save()
        return changes[upcoming.kid]

    def next_record(self, purpose: Purpose) -> KeyRecord | None:
        return next(
            (r for r in self.records if r.purpose is purpose and r.status is KeyStatus.NEXT), None
        )

    def find(self, kid: str) -> KeyRecord | None:
        return self._record(kid)

    def retire(self, kid: str) -> KeyRecord:
        """Refuse this key's signatures from now on and delete its private half."""
        record = self._record(kid)
        if record is None:
            raise errors.UnknownKey(f"no key with kid {kid!r} (see `authsvc keys list`)")
        if record.status is KeyStatus.CURRENT:
            raise errors.CurrentKeyRetire(
                "this is the signing key: add and promote (or rotate) a new one before retiring it"
            )
        retired = replace(record, status=KeyStatus.RETIRED)
        self.records = [retired if r is record else r for r in self.records]
        (self.folder / f"{record.purpose}-{kid}.pem").unlink(missing_ok=True)
        self._private.pop(kid, None)
        self._save()
        return retired

    def _save(self) -> None:
        index = self.folder / "keyring.json"
        tmp = index.with_suffix(".tmp")
        body = {
            "keys": [
                {**asdict(r), "purpose": str(r.purpose), "alg": str(r.alg), "status": str(r.status)}
                for r in self.records
            ]
        }
        tmp.write_text(json.dumps(body, indent=2))
        tmp.replace(index)
        self._mtime = self._index_mtime()

    # --- use -----------------------------------------------------------------------------
    def _record(self, kid: str) -> KeyRecord | None:
        return next((r for r in self.records if r.kid == kid), None)

    def _current_with(self, purpose: Purpose, alg: Algorithm) -> KeyRecord | None:
        return next(
            (
                r
                for r in self.records
                if r.purpose is purpose and r.status is KeyStatus.CURRENT and r.alg is alg
            ),
            None,
        )

    def current_record(self, purpose: Purpose, alg: Algorithm | None = None) -> KeyRecord:
        """The current key of this purpose: of algorithm `alg`, or else the main one (not one of
        the ADDITIONAL_ALGORITHMS kept beside it)."""
        current = [
            r for r in self.records if r.purpose is purpose and r.status is KeyStatus.CURRENT
        ]
        if alg is not None:
            return next(r for r in current if r.alg is alg)
        extra = ADDITIONAL_ALGORITHMS.get(purpose, ())
        return next((r for r in current if r.alg not in extra), current[0])

    def current(
        self, purpose: Purpose, alg: Algorithm | None = None
    ) -> tuple[KeyRecord, PrivateKey]:
        record = self.current_record(purpose, alg)
        return record, self._private[record.kid]

    def current_algorithms(self, purpose: Purpose) -> list[Algorithm]:
        """The algorithms this purpose can sign with now, the main one first."""
        main = self.current_record(purpose).alg
        others = {
            r.alg for r in self.records if r.purpose is purpose and r.status is KeyStatus.CURRENT
        }
        return [main, *sorted(others - {main})]

    def verifying_key(self, purpose: Purpose, kid: str, *, now: float) -> VerifyingKey | None:
        record = self._record(kid)
        if record is None or record.purpose is not purpose or record.kid not in self._private:
            return None
        public = self._private[kid].public_key()
        return VerifyingKey(kid=kid, alg=record.alg, key=public, usable=record.usable(now))

    def published(self, purpose: Purpose, *, now: float) -> list[KeyRecord]:
        return [
            r
            for r in self.records
            if r.purpose is purpose and r.usable(now) and r.kid in self._private
        ]

    def jwks(self, purpose: Purpose, *, now: float) -> dict[str, Any]:
        keys = []
        for record in self.published(purpose, now=now):
            jwk = public_jwk(self._private[record.kid].public_key())
            keys.append({**jwk, "kid": record.kid, "alg": str(record.alg), "use": "sig"})
        return {"keys": keys}

    def jose_signing_key(
        self, purpose: Purpose, alg: Algorithm | None = None
    ) -> tuple[KeyRecord, Any]:
        """The current key (of algorithm `alg`, or the main one) as a joserfc key, for JWTs."""
        record, key = self.current(purpose, alg)
        if record.kid not in self._jose_private:
            self._jose_private[record.kid] = _jose_key(key, record)
        return record, self._jose_private[record.kid]

    def jose_keyset(self, purpose: Purpose, *, now: float) -> KeySet:
        """The keys that may verify a JWT of this purpose right now."""
        published = self.published(purpose, now=now)
        cache_key = (purpose, tuple(r.kid for r in published))
        if cache_key not in self._keysets:
            keys = [_jose_key(self._private[r.kid].public_key(), r) for r in published]
            self._keysets[cache_key] = KeySet(keys)
        return self._keysets[cache_key]


_KEY_TYPES = {Algorithm.ED25519: "OKP", Algorithm.ES256: "EC", Algorithm.RS256: "RSA"}


def _jose_key(key: PrivateKey | PublicKey, record: KeyRecord) -> Any:
    key_type = _KEY_TYPES[record.alg]
    return import_key(key, key_type, parameters={"kid": record.kid, "alg": str(record.alg)})
