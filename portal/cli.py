"""`portal serve | db upgrade | demo-data`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from portal.config import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="portal", description="人社网上服务大厅 (relying portal)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the web server")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    sub.add_parser("demo-data", help="load the demo companies, agents and people (idempotent)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "serve":
        _serve(settings)
    elif args.command == "db":
        asyncio.run(_upgrade(settings))
    else:
        asyncio.run(_demo(settings))


def _serve(settings: Settings) -> None:
    from portal.app import create_app

    web.run_app(create_app(settings), host=settings.host, port=settings.port)


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
