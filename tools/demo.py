"""`make demo`: authsvc (:8700), the portal (:8701) and the phone page (:8702) on 127.0.0.1 with
the embedded defaults (memory store, SQLite, keys generated into keys/), demo data loaded, an
e-card applied for every demo person, and the command that logs each of them in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from mobile_sim import PhoneApp
from tools.ready import ServerExited, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo"
PORTS = {
    "authsvc": int(os.environ.get("AUTHSVC_PORT", 8700)),
    "portal": int(os.environ.get("PORTAL_PORT", 8701)),
    "phone": int(os.environ.get("PHONE_PORT", 8702)),
}
AUTHSVC = f"http://127.0.0.1:{PORTS['authsvc']}"
PORTAL = f"http://127.0.0.1:{PORTS['portal']}"
LOST = "e-card reported lost"


def _env() -> dict[str, str]:
    admin = os.environ.get("AUTHSVC_ADMIN_TOKEN") or secrets.token_urlsafe(16)
    return {
        **os.environ,
        "AUTHSVC_PORT": str(PORTS["authsvc"]),
        "AUTHSVC_ISSUER": AUTHSVC,
        "AUTHSVC_ADMIN_TOKEN": admin,
        "PORTAL_PORT": str(PORTS["portal"]),
        "PORTAL_PUBLIC_URL": PORTAL,
        "MOBILE_SIM_BROKER": AUTHSVC,
    }


def _start(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    VAR.mkdir(parents=True, exist_ok=True)
    log = (VAR / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def _wait(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    try:
        await wait_until_ready(url, process=process, timeout=20.0)
    except ServerExited:
        raise SystemExit(f"{name} exited; see {VAR / (name + '.log')}") from None
    except TimeoutError:
        raise SystemExit(f"{name} did not start; see {VAR / (name + '.log')}") from None


def _accounts(person: dict[str, Any], companies: list[dict[str, Any]]) -> list[str]:
    """The --account values this person can log in with at the portal."""
    found = []
    for company in companies:
        code = company["credit_code"]
        if company["legal_rep"]["id_number"] == person["id_number"]:
            found.append(f"legal_rep:{code}")
        if (company.get("admin") or {}).get("id_number") == person["id_number"]:
            found.append(f"admin:{code}")
        if any(a["id_number"] == person["id_number"] for a in company.get("agents", [])):
            found.append(f"agent:{code}")
    if person.get("staff_agency"):
        found.append("staff")
    return found or ["personal"]


async def _phones(env: dict[str, str]) -> list[tuple[dict[str, Any], Path, list[str]]]:
    demo = json.loads((ROOT / "portal" / "data" / "demo.json").read_text(encoding="utf-8"))
    made = []
    async with aiohttp.ClientSession() as http:
        for person in demo["people"]:
            home = VAR / "phones" / person["id_number"]
            async with PhoneApp.open(home, AUTHSVC, session=http, place="本机") as phone:
                if not phone.state.ecard:
                    await phone.apply_ecard(person["name"], person["id_number"], person["phone"])
                if LOST in person.get("note", ""):
                    headers = {"Authorization": f"Bearer {env['AUTHSVC_ADMIN_TOKEN']}"}
                    url = f"{AUTHSVC}/api/admin/ecards/{phone.state.card_no}/report_lost"
                    async with http.post(url, headers=headers) as response:
                        await response.read()
            made.append((person, home, _accounts(person, demo["companies"])))
    return made


def _print_guide(phones: list[tuple[dict[str, Any], Path, list[str]]]) -> None:
    print(
        f"\n  人社网上服务大厅 (portal)   {PORTAL}\n  统一身份认证 (authsvc)      {AUTHSVC}\n"
        f"  电子社保卡 phone page        http://127.0.0.1:{PORTS['phone']}\n"
    )
    print(
        "  Open the portal, 登录 → 企业用户 or 个人用户, save the QR image (right click)"
        " as qr.png, then:\n"
    )
    for person, home, accounts in phones:
        rel = home.relative_to(ROOT)
        print(f"  # {person['name']} — {person.get('note', '')}")
        for account in accounts:
            identity = {"admin": "legal_rep", "staff": "personal"}.get(
                account.split(":")[0], account.split(":")[0]
            )
            print(
                f"  .venv/bin/mobile-sim --home {rel} scan qr.png --account {account}"
                f" --face pass --confirm    (QR: {identity})"
            )
    print("\n  Ctrl-C stops everything.\n", flush=True)


async def _main() -> None:
    env = _env()
    processes = {
        "authsvc": _start("authsvc", ["-m", "authsvc", "serve"], env),
        "portal": _start("portal", ["-m", "portal", "serve"], env),
    }
    try:
        await _wait(AUTHSVC + "/readyz", processes["authsvc"], "authsvc")
        subprocess.run(
            [sys.executable, "-m", "portal", "demo-data"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        await _wait(PORTAL + "/", processes["portal"], "portal")
        phones = await _phones(env)
        processes["phone"] = _start(
            "phone",
            [
                "-m",
                "mobile_sim",
                "--home",
                str(VAR / "phones" / "web"),
                "--broker",
                AUTHSVC,
                "serve",
                "--port",
                str(PORTS["phone"]),
            ],
            env,
        )
        await _wait(f"http://127.0.0.1:{PORTS['phone']}/", processes["phone"], "phone")
        _print_guide(phones)
        while all(p.poll() is None for p in processes.values()):
            await asyncio.sleep(0.5)
        print("a process stopped; see var/demo/*.log", file=sys.stderr)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGINT)
        for process in processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())


if __name__ == "__main__":
    main()
