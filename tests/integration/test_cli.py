"""The `authsvc` command line against real key folders and a real Redis-backed broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    retired = authsvc_cli("keys", "retire", old_kid, **env)
    assert retired.returncode == 0 and "retired" in retired.stdout
    assert not (tmp_path / "keys" / f"qr-{old_kid}.pem").exists()


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
