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
    assert first.returncode == 0 and first.stdout.count("current") == 3
    rotated = authsvc_cli("keys", "rotate", "qr", **env)
    old_kid = next(line.split()[1] for line in first.stdout.splitlines() if line.startswith("qr"))
    assert (
        rotated.returncode == 0
        and f"qr     {old_kid}" in rotated.stdout
        and "previous" in rotated.stdout
    )
    early = authsvc_cli("keys", "retire", old_kid, **env)
    assert early.returncode == 2 and "inside its grace" in early.stderr
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
        early.returncode == 2
        and "Promote after" in early.stderr
        and "Traceback" not in early.stderr
    )
    assert index.read_text() == before
    again = authsvc_cli("keys", "add", "token", **env)
    assert again.returncode == 2 and "already has a next key" in again.stderr
    promoted = authsvc_cli("keys", "promote", "token", "--now", **env)
    assert promoted.returncode == 0 and "signs from now on" in promoted.stdout
    assert "verifies until" in promoted.stdout and "previous" in promoted.stdout
    before = index.read_text()
    unknown = authsvc_cli("keys", "retire", "0123456789abcdef", **env)
    assert unknown.returncode == 2 and "no key with kid" in unknown.stderr
    assert "Traceback" not in unknown.stderr and index.read_text() == before
    nothing = authsvc_cli("keys", "promote", "qr", **env)
    assert nothing.returncode == 2 and "no next key" in nothing.stderr


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
    """Without REDIS_URL the command explains itself and exits 2."""
    done = authsvc_cli(
        "ecard", "show", "E123", REDIS_URL="", AUTHSVC_KEYS_DIR=str(tmp_path / "keys")
    )
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
