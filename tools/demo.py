"""`make demo`: authsvc (:8700), the portal (:8701) and the phone page (:8702) on 127.0.0.1 with
the embedded defaults (memory store with the long-lived records in var/demo/authsvc.db, SQLite
for the portal, keys generated into keys/), the card registry and the people's faces seeded
(var/demo/registry.json, var/demo/faces/), an e-card applied for every demo person the registry
allows, and the command that logs each of them in.

Correct on every start: a phone whose e-card the broker still knows keeps it (the records are
durable); one whose card the broker does not know (the database was removed) applies again."""

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

from mobile_sim import PhoneApp, PhoneError
from tools import people
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
JWKS = f"{PORTAL}/.well-known/cert-jwks.json"
REGISTRY = VAR / "registry.json"
FACES = VAR / "faces"


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
        "MOBILE_SIM_CERT_JWKS_URL": JWKS,
        "AUTHSVC_REGISTRY": str(REGISTRY),
        "AUTHSVC_DB": str(VAR / "authsvc.db"),
        "MOBILE_SIM_FACES": str(FACES),
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


Guide = list[tuple[dict[str, Any], Path, list[str], str]]


async def _card_for(phone: PhoneApp, person: dict[str, Any]) -> str:
    """Keep a card the broker still knows; apply when there is none. Returns why not, or ""."""
    if phone.state.ecard:
        try:
            await phone.show_ecard()
            return ""
        except PhoneError as exc:
            if exc.code not in ("ecard_invalid", "ecard_not_found", "device_key_mismatch"):
                return exc.zh
    try:
        await phone.apply_ecard(person["name"], person["id_number"], person["phone"])
    except PhoneError as exc:
        return f"{exc.zh} ({exc.code})"
    return ""


async def _phones() -> Guide:
    demo = json.loads((ROOT / "portal" / "data" / "demo.json").read_text(encoding="utf-8"))
    made: Guide = []
    everyone = [*people.demo_people(), people.NOT_IN_REGISTRY]
    async with aiohttp.ClientSession() as http:
        for person in everyone:
            home = VAR / "phones" / person["id_number"]
            async with PhoneApp.open(
                home, AUTHSVC, session=http, place="本机", faces_dir=FACES
            ) as phone:
                refused = await _card_for(phone, person)
            made.append((person, home, _accounts(person, demo["companies"]), refused))
    return made


def _pin_certificate_keys(home: Path) -> None:
    """The phone page verifies certificates against this portal's JWKS (fetched at first use)."""
    state = PhoneApp.open(home, AUTHSVC, certificate_jwks_url=JWKS).state
    state.save()


def _print_documents(printed: list[str]) -> None:
    pngs = [Path(p).relative_to(ROOT) for p in printed if p.endswith(".png")]
    print("  Printed documents (单位参保证明 and 受理单), each with a signed QR:")
    for path in printed:
        print(f"    {Path(path).relative_to(ROOT)}")
    print(
        "  Verify one: the phone page → 扫一扫 → choose the PNG (or drop it there), or\n"
        + "".join(f"    .venv/bin/mobile-sim --home var/demo/phones/web verify {p}\n" for p in pngs)
        + f"  Print a fresh one in the portal: 用户中心 → 单位权益单 (keys: {JWKS})\n",
        flush=True,
    )


def _print_guide(phones: Guide) -> None:
    print(
        f"\n  人社网上服务大厅 (portal)   {PORTAL}\n  统一身份认证 (authsvc)      {AUTHSVC}\n"
        f"  电子社保卡 phone page        http://127.0.0.1:{PORTS['phone']}\n"
        f"  card registry {REGISTRY.relative_to(ROOT)}, faces {FACES.relative_to(ROOT)}/\n"
    )
    print(
        "  Open the portal, 登录 → 企业用户 or 个人用户, save the QR image (right click)"
        " as qr.png, then:\n"
    )
    for person, home, accounts, refused in phones:
        rel = home.relative_to(ROOT)
        print(f"  # {person['name']} — {person.get('note', '')}")
        if refused:
            print(f"  #   no e-card: {refused}")
            continue
        for account in accounts:
            identity = {"admin": "legal_rep", "staff": "personal"}.get(
                account.split(":")[0], account.split(":")[0]
            )
            print(
                f"  .venv/bin/mobile-sim --home {rel} --faces {FACES.relative_to(ROOT)}"
                f" scan qr.png --account {account} --confirm    (QR: {identity})"
            )
    print("\n  Ctrl-C stops everything; `make demo` again keeps the e-cards.\n", flush=True)


async def _main() -> None:
    _stop_on_termination()
    env = _env()
    people.seed(REGISTRY, FACES, people.demo_people())
    processes = {
        "authsvc": _start("authsvc", ["-m", "authsvc", "serve"], env),
        "portal": _start("portal", ["-m", "portal", "serve"], env),
    }
    try:
        await _wait(AUTHSVC + "/readyz", processes["authsvc"], "authsvc")
        await _wait(PORTAL + "/", processes["portal"], "portal")  # it migrates the database
        subprocess.run(
            [sys.executable, "-m", "portal", "demo-data"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        printed = subprocess.run(
            [sys.executable, "-m", "portal", "demo-documents", "--out", str(VAR)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        phones = await _phones()
        _pin_certificate_keys(VAR / "phones" / "web")
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
        _print_documents(printed)
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


def _stop_on_termination() -> None:
    """SIGTERM (`kill`, a service manager) and SIGHUP (the terminal closed) end the demo as
    Ctrl-C does: its `finally` stops the three servers instead of leaving them on the ports."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, task.cancel)


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(_main())


if __name__ == "__main__":
    main()
