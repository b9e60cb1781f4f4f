"""`make demo` (tools/demo.py) in a copy of this checkout, on free ports and its embedded
defaults: it starts authsvc, the portal and the phone page, and however it is stopped
(Ctrl-C or `kill`; the terminal closing is handled as `kill` is) it takes them down with it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from tools.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Ctrl-C stops everything"
_SETTINGS_PREFIXES = ("AUTHSVC_", "PORTAL_", "MOBILE_SIM_", "REDIS", "DATABASE_URL")


def _copy_of_checkout(target: Path) -> Path:
    """The checkout's tracked files as they are now (so the demo writes its var/ and keys/
    there, not here), with this checkout's virtualenv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_demo_starts_and_however_it_is_stopped_takes_its_servers_with_it(
    tmp_path: Path, stop: signal.Signals
) -> None:
    checkout = _copy_of_checkout(tmp_path / "qrauth")
    ports = {name: free_port() for name in ("AUTHSVC_PORT", "PORTAL_PORT", "PHONE_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS_PREFIXES)}
    env |= {name: str(port) for name, port in ports.items()}
    # A shell without job control starts background commands with SIGINT ignored, and a child
    # inherits that (the suite run as `make test &` did): Ctrl-C is what this test sends.
    demo = subprocess.Popen(
        [sys.executable, "-m", "tools.demo"],
        cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    servers: list[psutil.Process] = []
    try:
        output = _read_until_ready(demo)
        servers = psutil.Process(demo.pid).children()
        assert len(servers) == 3, output
        assert _answers(f"http://127.0.0.1:{ports['AUTHSVC_PORT']}/readyz")
        assert _answers(f"http://127.0.0.1:{ports['PORTAL_PORT']}/")
        assert _answers(f"http://127.0.0.1:{ports['PHONE_PORT']}/")
        demo.send_signal(stop)
        demo.wait(timeout=30)
        _, alive = psutil.wait_procs(servers, timeout=15)
        assert not alive, f"left running after {stop.name}: {alive}"
        assert not any(_answers(f"http://127.0.0.1:{port}/") for port in ports.values())
    finally:
        if demo.poll() is None:
            demo.kill()
        for server in servers:
            if server.is_running():
                server.kill()
        demo.wait(timeout=10)
        if demo.stdout is not None:
            demo.stdout.close()


def _read_until_ready(demo: subprocess.Popen[str]) -> str:
    """Its output up to the guide's last line; a demo that exits first fails here, one that
    hangs fails by the suite's per-test timeout."""
    assert demo.stdout is not None
    lines: list[str] = []
    for line in demo.stdout:
        lines.append(line)
        if READY_LINE in line:
            return "".join(lines)
    raise AssertionError("the demo did not get ready:\n" + "".join(lines[-40:]))
