"""The `authsvc` command line against real key folders and a real Redis-backed broker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from mobile_sim import PhoneError
from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin
from tests.support.redis import REDIS_URL
from tests.support.servers import running_authsvc


def authsvc_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authsvc", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


def test_keys_rotate_and_retire(tmp_path: Path) -> None:
    """`keys rotate qr` adds a current key and keeps the old one; `retire` refuses a current key."""
    env = {"AUTHSVC_KEYS_DIR": str(tmp_path / "keys")}
    first = authsvc_cli("keys", "list", **env)
    assert first.returncode == 0 and first.stdout.count("current") == 4  # token: ES256 + RS256
    rotated = authsvc_cli("keys", "rotate", "qr", **env)
    old_kid = next(line.split()[1] for line in first.stdout.splitlines() if line.startswith("qr"))
    assert (
        rotated.returncode == 0
        and f"qr     {old_kid}" in rotated.stdout
        and "previous" in rotated.stdout
    )
    early = authsvc_cli("keys", "retire", old_kid, **env)
    assert early.returncode == 1 and "inside its grace" in early.stderr
    retired = authsvc_cli("keys", "retire", old_kid, "--force", **env)
    assert retired.returncode == 0 and "retired" in retired.stdout
    assert not (tmp_path / "keys" / f"qr-{old_kid}.pem").exists()


def test_keys_add_promote_retire_say_what_to_do(tmp_path: Path) -> None:
    """`add` publishes a next key and says when to promote; an early `promote` is refused with
    that time; `promote --now` swaps; an unknown kid is a clear error, not a traceback."""
    env = {"AUTHSVC_KEYS_DIR": str(tmp_path / "keys"), "AUTHSVC_KEY_PUBLISH_WAIT": "3600"}
    index = tmp_path / "keys" / "keyring.json"
    added = authsvc_cli("keys", "add", "token", **env)
    assert added.returncode == 0 and "Promote it after" in added.stdout
    assert "token" in added.stdout and " next" in added.stdout
    before = index.read_text()
    early = authsvc_cli("keys", "promote", "token", **env)
    assert (
        early.returncode == 1
        and "Promote after" in early.stderr
        and "Traceback" not in early.stderr
    )
    assert index.read_text() == before
    again = authsvc_cli("keys", "add", "token", **env)
    assert again.returncode == 1 and "already has a next key" in again.stderr
    promoted = authsvc_cli("keys", "promote", "token", "--now", **env)
    assert promoted.returncode == 0 and "signs from now on" in promoted.stdout
    assert "verifies until" in promoted.stdout and "previous" in promoted.stdout
    before = index.read_text()
    unknown = authsvc_cli("keys", "retire", "0123456789abcdef", **env)
    assert unknown.returncode == 1 and "no key with kid" in unknown.stderr
    assert "Traceback" not in unknown.stderr and index.read_text() == before
    nothing = authsvc_cli("keys", "promote", "qr", **env)
    assert nothing.returncode == 1 and "no next key" in nothing.stderr


def test_an_ecard_key_outlives_the_cards_it_signed(tmp_path: Path) -> None:
    """The e-card issuer key's grace is longer than a card lives (five years)."""
    env = {"AUTHSVC_KEYS_DIR": str(tmp_path / "keys")}
    authsvc_cli("keys", "add", "ecard", **env)
    promoted = authsvc_cli("keys", "promote", "ecard", "--now", **env)
    until = re.search(r"verifies until (\d{4})-", promoted.stdout)
    assert until and int(until.group(1)) >= time.gmtime().tm_year + 5


@pytest.mark.redis
async def test_ecard_report_lost_from_the_command_line(
    tmp_path: Path, redis_prefix: str, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """`authsvc ecard report_lost CARD` on the shared Redis stops that card's next scan."""
    async with running_authsvc(tmp_path, store_kind="redis", prefix=redis_prefix) as broker:
        phone = await phones(broker.url)
        env = {
            "REDIS_URL": REDIS_URL,
            "AUTHSVC_REDIS_PREFIX": redis_prefix,
            "AUTHSVC_KEYS_DIR": broker.settings.keys_dir,
            "AUTHSVC_CLIENTS": broker.settings.clients_file,
        }
        done = authsvc_cli("ecard", "report_lost", phone.state.card_no, **env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "lost"
        browser = BrowserLogin(broker.url, http)
        await browser.start()
        with pytest.raises(PhoneError) as refused:
            await phone.scan(browser.ticket["qr_text"])
        assert refused.value.code == "ecard_not_active"


def test_ecard_commands_need_a_shared_store(tmp_path: Path) -> None:
    """Without REDIS_URL nor the embedded database the command explains itself and exits 2."""
    done = authsvc_cli(
        "ecard",
        "show",
        "E123",
        REDIS_URL="",
        AUTHSVC_DB="",
        AUTHSVC_KEYS_DIR=str(tmp_path / "keys"),
    )
    assert done.returncode == 2 and "REDIS_URL" in done.stderr


def test_ecard_commands_on_the_embedded_database(tmp_path: Path) -> None:
    """On the embedded SQLite file an unknown card is a clear refusal, exit 1, no traceback."""
    done = authsvc_cli(
        "ecard",
        "show",
        "E123",
        REDIS_URL="",
        AUTHSVC_DB=str(tmp_path / "authsvc.db"),
        AUTHSVC_KEYS_DIR=str(tmp_path / "keys"),
    )
    assert done.returncode == 1 and "ecard_not_found" in done.stderr
    assert "Traceback" not in done.stderr


async def test_registry_set_state_refuses_the_next_scan(
    tmp_path: Path, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """`authsvc registry set-state ID 挂失` on the registry file a running authsvc reads: the
    next scan is refused; `正常` again and it works."""
    async with running_authsvc(tmp_path) as broker:
        phone = await phones(broker.url)
        env = {"AUTHSVC_REGISTRY": broker.settings.registry_file}
        holder = phone.holder()
        done = authsvc_cli("registry", "set-state", holder, "挂失", **env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["card_state"] == "挂失" and "face_jwk" not in done.stdout
        browser = BrowserLogin(broker.url, http)
        await browser.start()
        with pytest.raises(PhoneError) as refused:
            await phone.scan(browser.ticket["qr_text"])
        assert refused.value.code == "physical_card_abnormal"
        assert authsvc_cli("registry", "set-state", holder, "正常", **env).returncode == 0
        await phone.scan(browser.ticket["qr_text"])
        unknown = authsvc_cli("registry", "show", "23010319800515162X", **env)
        assert unknown.returncode == 1 and "not in the registry" in unknown.stderr


@pytest.mark.parametrize(("kid", "code"), [("00" * 8, "unknown_key"), (None, "current_key_retire")])
def test_keys_retire_refusals_print_a_code_not_a_traceback(
    tmp_path: Path, kid: str | None, code: str
) -> None:
    """`keys retire` of an unknown or the current kid: exit 1, the registry code and message on
    stderr, no traceback, and the key folder unchanged."""
    env = {"AUTHSVC_KEYS_DIR": str(tmp_path / "keys")}
    listed = authsvc_cli("keys", "list", **env)
    kid = kid or next(line.split()[1] for line in listed.stdout.splitlines() if "current" in line)
    before = sorted(p.name for p in (tmp_path / "keys").iterdir())
    index = (tmp_path / "keys" / "keyring.json").read_bytes()
    refused = authsvc_cli("keys", "retire", kid, **env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith(f"authsvc: {code}: ")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == before
    assert (tmp_path / "keys" / "keyring.json").read_bytes() == index
