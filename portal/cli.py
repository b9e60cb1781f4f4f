"""`portal serve | db upgrade | demo-data | demo-documents | keys {list,rotate,retire}`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from portal.config import Settings, deployment_problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="portal", description="人社网上服务大厅 (relying portal)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the web server")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    sub.add_parser("demo-data", help="load the demo companies, agents and people (idempotent)")
    documents = sub.add_parser("demo-documents", help="print a demo certificate and receipt")
    documents.add_argument("--out", default="var/demo", help="folder for the PDFs and PNGs")
    keys = sub.add_parser("keys", help="certificate signing keys (证明电子签名密钥)")
    keys.add_argument("action", choices=["list", "rotate", "retire"])
    keys.add_argument("kid", nargs="?", help="the key to retire")
    keys.add_argument("--alg", choices=["ES256", "Ed25519"], help="algorithm of the new key")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "serve":
        sys.exit(_serve(settings))
    elif args.command == "demo-documents":
        asyncio.run(_demo_documents(settings, args.out))
    elif args.command == "keys":
        sys.exit(_keys(settings, args.action, args.kid, args.alg))
    elif args.command == "db":
        asyncio.run(_upgrade(settings))
    else:
        asyncio.run(_demo(settings))


def _serve(settings: Settings) -> int:
    from portal.app import create_app
    from portal.db.engine import SchemaBehind

    problems = deployment_problems(settings)
    for problem in problems:
        sys.stderr.write(f"portal: refusing to start: {problem}\n")
    if problems:
        return 2
    try:
        web.run_app(create_app(settings), host=settings.host, port=settings.port)
    except SchemaBehind as exc:
        sys.stderr.write(f"portal: refusing to start: {exc}\n")
        return 2
    return 0


async def _upgrade(settings: Settings) -> None:
    from portal.db.engine import make_engine, upgrade

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    sys.stdout.write("database is at the latest revision\n")


async def _demo(settings: Settings) -> None:
    from portal.db.engine import make_engine, make_sessionmaker, upgrade
    from portal.demo import load_business_demo, load_demo
    from portal.registries import load

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        sessionmaker = make_sessionmaker(engine)
        summary = await load_demo(sessionmaker, load())
        summary += "\n" + await load_business_demo(sessionmaker)
    finally:
        await engine.dispose()
    sys.stdout.write(summary + "\n")


async def _demo_documents(settings: Settings, out: str) -> None:
    from pathlib import Path

    from portal.db.engine import make_engine, make_sessionmaker, upgrade
    from portal.demo_documents import make

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        written = await make(make_sessionmaker(engine), settings, Path(out))
    finally:
        await engine.dispose()
    sys.stdout.write("".join(f"{path}\n" for path in written))


def _keys(settings: Settings, action: str, kid: str | None, alg: str | None) -> int:
    """Rotation keeps the old key published six months and a day, so that every certificate
    it signed still verifies; `retire` withdraws it at once (revoking what it signed)."""
    from portal.clock import utcnow
    from portal.documents.keyring import CertKeyring

    now = utcnow()
    keyring = CertKeyring.open(settings.cert_keys_dir, now=now)
    if action == "rotate":
        record = keyring.rotate(now=now, alg=alg)
        sys.stdout.write(f"new current key {record.kid} ({record.alg})\n")
    elif action == "retire":
        if not kid:
            sys.stderr.write("portal keys retire KID\n")
            return 2
        try:
            keyring.retire(kid)
        except (KeyError, ValueError) as exc:
            sys.stderr.write(f"cannot retire {kid}: {exc}\n")
            return 1
        sys.stdout.write(f"retired {kid}: certificates it signed no longer verify\n")
    for record in keyring.records:
        until = f" published until {record.retire_after}" if record.retire_after else ""
        sys.stdout.write(
            f"{record.kid}  {record.alg:8} {record.status:9} {record.created_at}{until}\n"
        )
    return 0
