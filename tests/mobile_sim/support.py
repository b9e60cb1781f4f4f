"""Real little servers and helpers for the mobile_sim tests: a portal's accounts endpoint, a
portal's certificate keys, a request counter for the phone's HTTP session, and the CLI runner."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from authsvc.core.crypto import b64u_decode
from tests.support import people
from tests.support.servers import free_socket

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "mobile_sim"

ZHANG = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}
LI = {"name": "李四", "id_number": "110105194912310038", "phone": "13900139000"}
C1 = {"credit_code": "91230100MA1BX2K306", "company_name": "哈尔滨冰城科技有限公司"}
C2 = {"credit_code": "91230103MA1CQ7L509", "company_name": "黑龙江北大荒物流有限公司"}
C3 = {"credit_code": "12230000MB0N4R8P09", "company_name": "黑龙江省人才交流中心"}
RELATIONSHIP = {
    "unit_no": "23010000001",
    "insurance_type": "企业职工基本养老保险",
    "agency": "哈尔滨市社会保险事业局",
}
NO_AGENT = "未找到当前办事员账号信息，请联系法人授权或者去窗口授权！"


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 (an ephemeral port); yields its base URL."""
    sock = free_socket()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


# --- a portal's accounts endpoint (docs/api.md, "Accounts endpoint") ------------------------
def accounts_for(identity: str, id_number: str, name: str) -> list[dict[str, Any]] | None:
    """张三 has a personal account, is legal representative of C1 and C2, administrator of C3,
    agent of C1 and C3; 李四 has only a personal account."""
    if identity == "personal":
        return [{"role": "personal", "name": name}]
    if id_number != ZHANG["id_number"]:
        return None
    if identity == "legal_rep":
        return [{"role": "legal_rep", **C1}, {"role": "legal_rep", **C2}, {"role": "admin", **C3}]
    return [
        {"role": "agent", **C1, "relationships": [RELATIONSHIP], "business_items": ["certificate"]},
        {"role": "agent", **C3, "relationships": [], "business_items": []},
        {"role": "staff", "name": name},
    ]


def accounts_app(calls: list[dict[str, Any]]) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        token = (await request.read()).decode()
        header = json.loads(b64u_decode(token.split(".")[0]))
        claims = json.loads(b64u_decode(token.split(".")[1]))
        assert request.content_type == "application/jwt" and header["typ"] == "accounts-request+jwt"
        calls.append(claims)
        found = accounts_for(claims["identity"], claims["id_number"], claims["name"])
        if found is None:
            body = {
                "error": "no_agent_account",
                "message": {"zh": NO_AGENT, "en": "No agent account"},
            }
            return web.json_response(body, status=404)
        return web.json_response({"accounts": found})

    app = web.Application()
    app.router.add_post("/api/accounts", answer)
    return app


# --- a portal's certificate keys ---------------------------------------------------------------
@dataclass
class CertificatePortal:
    """Publishes a certificate JWKS and signs certificate tokens (the contract in the README)."""

    keys: list[Any] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def add_key(self, kid: str, alg: str = "ES256") -> Any:
        key = (
            ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg})
            if alg == "ES256"
            else OKPKey.generate_key("Ed25519", parameters={"kid": kid, "alg": alg})
        )
        self.keys.append(key)
        return key

    @property
    def issuer(self) -> str:
        return self.url.rsplit("/.well-known/", 1)[0]

    def app(self) -> web.Application:
        async def jwks(_: web.Request) -> web.Response:
            self.fetches += 1
            return web.json_response(
                {"keys": [{**k.as_dict(private=False), "use": "sig"} for k in self.keys]}
            )

        app = web.Application()
        app.router.add_get("/.well-known/cert-jwks.json", jwks)
        return app

    def sign(self, key: Any, *, typ: str = "cert+jwt", alg: str = "ES256", **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "jti": "ZM2024110500123",
            "iat": now - 60,
            "exp": now + 182 * 24 * 3600,
            "cert": {
                "type": "unit_insurance_certificate",
                "title": {"zh": "单位参保证明", "en": "Company social insurance certificate"},
                "holder": {"name": C1["company_name"], "id": C1["credit_code"]},
                "facts": [
                    {
                        "label": {"zh": "参保险种", "en": "Insurance"},
                        "value": "企业职工基本养老保险",
                    },
                    {"label": {"zh": "参保人数", "en": "Insured people"}, "value": "36"},
                ],
            },
            **overrides,
        }
        header = {"alg": alg, "kid": key.kid, "typ": typ}
        return jwt.encode(header, claims, key, algorithms=[alg])


@asynccontextmanager
async def certificate_portal() -> AsyncIterator[CertificatePortal]:
    portal = CertificatePortal()
    portal.add_key("cert-2024")
    async with serve(portal.app()) as base:
        portal.url = base + "/.well-known/cert-jwks.json"
        yield portal


# --- watching the phone's requests -----------------------------------------------------------
def request_log() -> tuple[aiohttp.TraceConfig, list[str]]:
    """A trace config recording "METHOD URL" for every request a session starts."""
    seen: list[str] = []

    async def on_start(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append(f"{params.method} {params.url}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    return trace, seen


# --- the CLI as a real subprocess ----------------------------------------------------------
@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.out))


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILE_SIM_")}
    env["PYTHONWARNINGS"] = "error"
    env["MOBILE_SIM_FACES"] = str(people.faces_dir())  # the people, apart from the phones
    return {**env, **extra}


async def mobile_sim(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, script: bool = False
) -> Run:
    """Run `python -m mobile_sim ARGS` (or the installed `mobile-sim` script) to completion."""
    command = (
        [str(Path(sys.executable).parent / "mobile-sim")]
        if script
        else [sys.executable, "-m", "mobile_sim"]
    )
    process = await asyncio.create_subprocess_exec(
        *command,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or cli_env(),
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())
