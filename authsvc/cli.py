"""authsvc command line: serve | keys {list,rotate,retire} | ecard ACTION CARD |
registry {show,set-state} | clients check."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from aiohttp import web

from authsvc import errors
from authsvc.clients import ClientRegistry
from authsvc.config import Settings
from authsvc.keyring import Keyring, Purpose


def _serve(settings: Settings, _: argparse.Namespace) -> int:
    from authsvc import logs
    from authsvc.app import create_app

    logs.configure()
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None
    )
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    keyring = Keyring.load_or_create(settings.keys_dir, now=time.time())
    if args.keys_command == "rotate":
        record = keyring.rotate(Purpose(args.purpose), now=time.time(), grace=settings.key_grace)
        print(f"rotated {args.purpose}: new kid {record.kid}")
    elif args.keys_command == "retire":
        record = keyring.retire(args.kid)
        print(f"retired {record.purpose} key {record.kid}")
    for record in keyring.records:
        print(f"{record.purpose:6} {record.kid} {record.alg:8} {record.status}")
    return 0


async def _card_action(settings: Settings, card_no: str, action: str) -> dict[str, object]:
    from authsvc.accounts import AccountsProvider
    from authsvc.core.clock import SystemClock
    from authsvc.registry import FileRegistry
    from authsvc.services import ecards
    from authsvc.services.broker import Broker
    from authsvc.store import open_store

    store = await open_store(
        settings.redis_url,
        prefix=settings.redis_prefix,
        audit_path=settings.audit_log,
        db_path=settings.db_path,
    )
    keyring = Keyring.load_or_create(settings.keys_dir, now=time.time())
    broker = Broker(
        settings,
        store,
        keyring,
        ClientRegistry.load(settings.clients_file),
        SystemClock(),
        AccountsProvider(keyring, settings.issuer, 1.0),
        registry=FileRegistry(settings.registry_file),
    )
    try:
        if action == "show":
            return await ecards.record_of(broker, card_no)
        return await ecards.apply_action(broker, card_no, action)
    finally:
        await store.close()


def _ecard(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.redis_url and not settings.db_path:
        print(
            "ecard commands change a shared store: set REDIS_URL or AUTHSVC_DB (the memory "
            "store lives inside the running server; use its admin API instead)",
            file=sys.stderr,
        )
        return 2
    from authsvc.errors import QrAuthError

    try:
        record = asyncio.run(_card_action(settings, args.card_no, args.action))
    except QrAuthError as exc:
        print(f"{exc.code}: {exc.message_zh} / {exc.message_en}", file=sys.stderr)
        return 1
    print(json.dumps(record, ensure_ascii=False))
    return 0


def _registry(settings: Settings, args: argparse.Namespace) -> int:
    """The simulated card registry: show a holder, or change their physical card's state (a
    running authsvc sees it on the next scan)."""
    from authsvc.registry import CardState, FileRegistry

    registry = FileRegistry(settings.registry_file)
    try:
        if args.registry_command == "set-state":
            person = registry.set_card_state_sync(args.id_number, CardState(args.state))
        else:
            person = next(p for p in registry.persons() if p.id_number == args.id_number.upper())
    except (KeyError, StopIteration):
        print(f"not in the registry {settings.registry_file}", file=sys.stderr)
        return 1
    view = person.as_dict()
    view.pop("face_jwk")
    print(json.dumps(view, ensure_ascii=False))
    return 0


def _clients(settings: Settings, _: argparse.Namespace) -> int:
    for client in ClientRegistry.load(settings.clients_file).all():
        print(
            f"{client.client_id:12} {client.auth_method:20} {', '.join(client.redirect_uris)}"
            f"  scopes={' '.join(client.scopes)} alg={client.id_token_signed_response_alg}"
        )
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="authsvc", description="qrauth broker and identity provider"
    )
    sub = root.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the broker").set_defaults(run=_serve)
    keys = sub.add_parser("keys", help="list, rotate or retire signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("list")
    keys_sub.add_parser("rotate").add_argument("purpose", choices=[p.value for p in Purpose])
    keys_sub.add_parser("retire").add_argument("kid")
    keys.set_defaults(run=_keys)
    ecard = sub.add_parser("ecard", help="show, suspend, report lost, enable or cancel an e-card")
    ecard.add_argument("action", choices=["show", "suspend", "report_lost", "enable", "cancel"])
    ecard.add_argument("card_no")
    ecard.set_defaults(run=_ecard)
    registry = sub.add_parser("registry", help="the card registry: show, set-state (挂失, 正常…)")
    registry_sub = registry.add_subparsers(dest="registry_command", required=True)
    registry_sub.add_parser("show").add_argument("id_number")
    set_state = registry_sub.add_parser("set-state")
    set_state.add_argument("id_number")
    set_state.add_argument("state", choices=["正常", "封存", "挂失", "应用锁定", "注销"])
    registry.set_defaults(run=_registry)
    clients = sub.add_parser("clients", help="check the client registrations")
    clients.add_argument("clients_command", choices=["check"])
    clients.set_defaults(run=_clients)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        status = args.run(Settings.from_env(), args)
    except errors.QrAuthError as exc:
        print(f"authsvc: {exc.code}: {exc.zh} / {exc.en} ({exc.detail})", file=sys.stderr)
        status = 1
    sys.exit(status)
