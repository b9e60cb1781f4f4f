"""The keys folder (authsvc/keyring.py): generate, rotate, retire, reload; explicit `now`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from authsvc import errors
from authsvc.core import qr
from authsvc.core.crypto import Algorithm, sign, verify
from authsvc.core.tickets import Identity, new_ticket_id
from authsvc.keyring import ADDITIONAL_ALGORITHMS, DEFAULT_ALGORITHMS, Keyring, KeyStatus, Purpose

NOW = 1_800_000_000.0
GRACE = 3600.0


def pem(folder: Path, purpose: Purpose, kid: str) -> Path:
    return folder / f"{purpose}-{kid}.pem"


def kids(keyring: Keyring, purpose: Purpose, now: float) -> list[str]:
    return [k["kid"] for k in keyring.jwks(purpose, now=now)["keys"]]


def verifies(keyring: Keyring, purpose: Purpose, kid: str, now: float) -> bool:
    """Whether a key may verify at `now` (the same rule the QR verifier applies)."""
    key = keyring.verifying_key(purpose, kid, now=now)
    return key is not None and key.usable


def test_first_load_generates_one_key_per_purpose_with_private_files(tmp_path: Path) -> None:
    """A fresh folder gets one current key per purpose, in 0600 files, with default algorithms."""
    keyring = Keyring.load_or_create(tmp_path / "keys", now=NOW)
    for purpose in Purpose:
        record = keyring.current_record(purpose)
        assert record.status is KeyStatus.CURRENT and record.alg is DEFAULT_ALGORITHMS[purpose]
        assert record.created_at == NOW and len(bytes.fromhex(record.kid)) == 8
        mode = stat.S_IMODE(pem(tmp_path / "keys", purpose, record.kid).stat().st_mode)
        assert mode == 0o600
    rsa = keyring.current_record(Purpose.TOKEN, Algorithm.RS256)
    assert rsa.status is KeyStatus.CURRENT and rsa.kid != keyring.current_record(Purpose.TOKEN).kid
    index = json.loads((tmp_path / "keys" / "keyring.json").read_text())
    assert len(index["keys"]) == len(Purpose) + 1  # the RS256 token key beside the ES256 one
    assert "PRIVATE" not in (tmp_path / "keys" / "keyring.json").read_text()


def test_loading_again_keeps_the_keys(tmp_path: Path) -> None:
    """A second start reads the same keys instead of generating new ones."""
    first = Keyring.load_or_create(tmp_path, now=NOW)
    second = Keyring.load_or_create(tmp_path, now=NOW + 10)
    assert [r.kid for r in first.records] == [r.kid for r in second.records]
    record, key = second.current(Purpose.QR)
    assert verify(first.current(Purpose.QR)[1].public_key(), record.alg, b"m", sign(key, b"m"))


def test_algorithms_can_be_chosen(tmp_path: Path) -> None:
    """load_or_create honours per-purpose algorithms for new keys."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW, algorithms={Purpose.QR: Algorithm.ES256})
    assert keyring.current_record(Purpose.QR).alg is Algorithm.ES256
    assert keyring.jwks(Purpose.QR, now=NOW)["keys"][0]["crv"] == "P-256"


def test_jwks_publishes_only_public_members(tmp_path: Path) -> None:
    """The JWKS view carries kid, alg and use and never a private member."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    for purpose in Purpose:
        jwk, *others = keyring.jwks(purpose, now=NOW)["keys"]
        assert jwk["kid"] == keyring.current_record(purpose).kid and jwk["use"] == "sig"
        assert jwk["alg"] == str(DEFAULT_ALGORITHMS[purpose]) and "d" not in jwk
        assert [o["alg"] for o in others] == [
            str(a) for a in ADDITIONAL_ALGORITHMS.get(purpose, ())
        ]
        assert all("d" not in o and "p" not in o and "q" not in o for o in others)


def test_rotate_keeps_the_old_key_until_its_grace_ends(tmp_path: Path) -> None:
    """After rotation the old key still verifies and is published until now+grace, then not."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    old = keyring.current_record(Purpose.QR)
    new = keyring.rotate(Purpose.QR, now=NOW + 100, grace=GRACE)
    assert keyring.current_record(Purpose.QR) == new and new.kid != old.kid
    assert new.alg is old.alg and new.created_at == NOW + 100
    end = NOW + 100 + GRACE
    for now, old_live in ((NOW + 100, True), (end - 0.001, True), (end, False), (end + 1e6, False)):
        assert verifies(keyring, Purpose.QR, old.kid, now) is old_live, now
        assert kids(keyring, Purpose.QR, now) == ([old.kid, new.kid] if old_live else [new.kid])
        assert verifies(keyring, Purpose.QR, new.kid, now)
    assert kids(keyring, Purpose.TOKEN, end) == [
        keyring.current_record(Purpose.TOKEN).kid,
        keyring.current_record(Purpose.TOKEN, Algorithm.RS256).kid,
    ]


def test_a_qr_signed_before_rotation_verifies_during_grace_only(tmp_path: Path) -> None:
    """A QR shown before a rotation still scans during the grace period, then is unknown."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    record, key = keyring.current(Purpose.QR)
    claims = qr.QrClaims(
        issuer="http://i",
        ticket_id=new_ticket_id(),
        client_id="hall",
        identity=Identity.PERSONAL,
        expires_at=int(NOW + 10 * GRACE),
        kid=record.kid,
    )
    text = qr.build(claims, key)
    keyring.rotate(Purpose.QR, now=NOW, grace=GRACE)

    def check(now: float) -> qr.QrClaims:
        return qr.verify_text(
            text,
            trusted_issuers={"http://i"},
            now=now,
            resolve_key=lambda kid: keyring.verifying_key(Purpose.QR, kid, now=now),
        )

    assert check(NOW + GRACE - 1) == claims
    with pytest.raises(errors.QrUnknownKey):
        check(NOW + GRACE)


def test_rotate_may_change_the_algorithm(tmp_path: Path) -> None:
    """A rotation can move a purpose to another algorithm."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    new = keyring.rotate(Purpose.ECARD, now=NOW, grace=GRACE, alg=Algorithm.ES256)
    assert new.alg is Algorithm.ES256 and keyring.current(Purpose.ECARD)[0] == new


def test_retire_refuses_the_key_and_removes_its_private_file(tmp_path: Path) -> None:
    """A retired key stops verifying and being published at once, and its PEM is deleted."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    old = keyring.current_record(Purpose.QR)
    keyring.rotate(Purpose.QR, now=NOW, grace=GRACE)
    retired = keyring.retire(old.kid)
    assert retired.status is KeyStatus.RETIRED
    assert not pem(tmp_path, Purpose.QR, old.kid).exists()
    assert keyring.verifying_key(Purpose.QR, old.kid, now=NOW) is None
    assert old.kid not in kids(keyring, Purpose.QR, NOW)
    reloaded = Keyring.load_or_create(tmp_path, now=NOW)
    assert reloaded.verifying_key(Purpose.QR, old.kid, now=NOW) is None
    assert any(r.kid == old.kid and r.status is KeyStatus.RETIRED for r in reloaded.records)


def test_retire_refuses_the_current_key_and_unknown_kids(tmp_path: Path) -> None:
    """The current key cannot be retired (rotate first); an unknown kid is a KeyError."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    current = keyring.current_record(Purpose.TOKEN)
    with pytest.raises(ValueError, match="rotate"):
        keyring.retire(current.kid)
    assert pem(tmp_path, Purpose.TOKEN, current.kid).exists()
    with pytest.raises(KeyError):
        keyring.retire("00" * 8)


def test_verifying_key_is_per_purpose(tmp_path: Path) -> None:
    """A kid of one purpose never verifies for another."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    token_kid = keyring.current_record(Purpose.TOKEN).kid
    assert keyring.verifying_key(Purpose.QR, token_kid, now=NOW) is None
    assert keyring.verifying_key(Purpose.TOKEN, token_kid, now=NOW) is not None


def test_reload_if_changed_picks_up_another_instances_rotation(tmp_path: Path) -> None:
    """A rotation written by another process (another Keyring on the folder) is picked up."""
    serving = Keyring.load_or_create(tmp_path, now=NOW)
    assert serving.reload_if_changed() is False
    cli = Keyring.load_or_create(tmp_path, now=NOW)
    new = cli.rotate(Purpose.QR, now=NOW + 1, grace=GRACE)
    assert serving.reload_if_changed() is True
    assert serving.current_record(Purpose.QR) == new
    assert verifies(serving, Purpose.QR, new.kid, NOW + 1)
    assert serving.reload_if_changed() is False
    cli.retire(next(r.kid for r in cli.records if r.status is KeyStatus.PREVIOUS))
    assert serving.reload_if_changed() is True
    assert len(kids(serving, Purpose.QR, NOW + 1)) == 1


def test_own_changes_do_not_count_as_foreign(tmp_path: Path) -> None:
    """A rotation made by this instance does not trigger a reload of itself."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    keyring.rotate(Purpose.QR, now=NOW, grace=GRACE)
    assert keyring.reload_if_changed() is False


def test_rs256_token_key_rotates_by_itself(tmp_path: Path) -> None:
    """Rotating the RS256 token key replaces only it; the ES256 one stays current."""
    keyring = Keyring.load_or_create(tmp_path, now=NOW)
    es256 = keyring.current_record(Purpose.TOKEN)
    old = keyring.current_record(Purpose.TOKEN, Algorithm.RS256)
    new = keyring.rotate(Purpose.TOKEN, now=NOW, grace=GRACE, alg=Algorithm.RS256)
    assert keyring.current_record(Purpose.TOKEN, Algorithm.RS256) == new != old
    assert keyring.current_record(Purpose.TOKEN) == es256
    assert keyring.current_algorithms(Purpose.TOKEN) == [Algorithm.ES256, Algorithm.RS256]
    assert kids(keyring, Purpose.TOKEN, NOW) == [es256.kid, old.kid, new.kid]
    record, key = keyring.current(Purpose.TOKEN, Algorithm.RS256)
    assert key.key_size >= 2048 and verify(key.public_key(), record.alg, b"m", sign(key, b"m"))
    assert not verify(key.public_key(), Algorithm.RS256, b"other", sign(key, b"m"))
