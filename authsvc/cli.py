"""authsvc command line: serve | keys {list,rotate,retire} | ecard ACTION CARD |
registry {show,set-state} | clients check."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time

from aiohttp import web

from authsvc import errors
from authsvc.clients import ClientRegistry
from authsvc.config import Settings, deployment_problems
from authsvc.keyring import Keyring, KeyringError, KeyStatus, Purpose

KEY_RELOAD_SECONDS = 5.0  # authsvc.app reloads the keys folder this often


def _serve(settings: Settings, _: argparse.Namespace) -> int:
    from authsvc import logs
    from authsvc.app import create_app

    secrets = [c.client_secret for c in ClientRegistry.load(settings.clients_file).all()]
    problems = deployment_problems(settings, [s for s in secrets if s])
    for problem in problems:
        print(f"authsvc: refusing to start in production: {problem}", file=sys.stderr)
    if problems:
        return 2

    logs.configure()
    app = create_app(settings)
    settle_heap()
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        loop=new_event_loop(settings.event_loop),
    )
    return 0


def settle_heap() -> None:
    """Leave what start-up made (modules, classes, the app: ~60,000 objects) out of CPython's
    cycle collections from now on (`gc.freeze`): a full collection then walks only what serving
    made, so its pause, which every request waiting on the loop sits out, is that much shorter."""
    gc.collect()
    gc.freeze()


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """`uvloop` or the standard library's loop (the bench measures one against the other)."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    keyring = Keyring.load_or_create(settings.keys_dir, now=time.time())
    _key_command(settings, keyring, args)  # a refusal is printed by main() with its code
    for record in keyring.records:
        print(f"{record.purpose:6} {record.kid} {record.alg:8} {record.status}")
    return 0


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _key_command(settings: Settings, keyring: Keyring, args: argparse.Namespace) -> None:
    """add → (wait) → promote → (grace) → retire; `rotate` is add+promote at once (one process
    only: others would meet a signature by a key they have not loaded)."""
    now = time.time()
    command = args.keys_command
    if command == "add":
        record = keyring.add(Purpose(args.purpose), now=now)
        print(
            f"published next {args.purpose} key {record.kid} (verifies, does not sign yet).\n"
            f"Every authsvc process loads it within {KEY_RELOAD_SECONDS:.0f} s; relying parties "
            f"refresh their JWKS within AUTHSVC_KEY_PUBLISH_WAIT = {settings.key_publish_wait:.0f}"
            f" s.\nPromote it after {_when(now + settings.key_publish_wait)}: "
            f"authsvc keys promote {args.purpose}"
        )
    elif command == "promote":
        _promote(settings, keyring, Purpose(args.purpose), now, args.now)
    elif command == "rotate":
        grace = settings.grace_for(args.purpose)
        record = keyring.rotate(Purpose(args.purpose), now=now, grace=grace)
        print(f"rotated {args.purpose}: new kid {record.kid} (single process: prefer add/promote)")
    elif command == "retire":
        _retire(keyring, args.kid, now, args.force)


def _promote(
    settings: Settings, keyring: Keyring, purpose: Purpose, now: float, at_once: bool
) -> None:
    upcoming = keyring.next_record(purpose)
    ready_at = (upcoming.created_at if upcoming else now) + settings.key_publish_wait
    if upcoming is not None and now < ready_at and not at_once:
        raise KeyringError(
            f"next key {upcoming.kid} was published {now - upcoming.created_at:.0f} s ago; "
            f"relying parties may not have it yet. Promote after {_when(ready_at)} "
            "(or --now if nothing caches the JWKS)"
        )
    old = keyring.current_record(purpose)
    grace = settings.grace_for(purpose)
    record = keyring.promote(purpose, now=now, grace=grace)
    print(
        f"{purpose} key {record.kid} signs from now on (every process within "
        f"{KEY_RELOAD_SECONDS:.0f} s).\nThe old key {old.kid} verifies until "
        f"{_when(now + grace)}; retire it after that: authsvc keys retire {old.kid}"
    )


def _retire(keyring: Keyring, kid: str, now: float, force: bool) -> None:
    record = keyring.find(kid)
    in_grace = record is not None and record.status is KeyStatus.PREVIOUS
    if record is not None and in_grace and now < record.retire_after and not force:
        raise KeyringError(
            f"{record.purpose} key {kid} is inside its grace until {_when(record.retire_after)}"
            ": what it signed would be refused. --force retires it now (a compromised key)"
        )
    retired = keyring.retire(kid)
    print(f"retired {retired.purpose} key {retired.kid}")


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
        redis_cluster_url=settings.redis_cluster_url,
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
    if not settings.redis_url and not settings.redis_cluster_url and not settings.db_path:
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
    keys = sub.add_parser("keys", help="list, add, promote, retire (or rotate) signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    purposes = [p.value for p in Purpose]
    keys_sub.add_parser("list")
    keys_sub.add_parser("add", help="publish a next key").add_argument("purpose", choices=purposes)
    promote = keys_sub.add_parser("promote", help="sign with the next key")
    promote.add_argument("purpose", choices=purposes)
    promote.add_argument("--now", action="store_true", help="do not wait for JWKS caches")
    keys_sub.add_parser("rotate", help="add + promote at once").add_argument(
        "purpose", choices=purposes
    )
    retire = keys_sub.add_parser("retire", help="refuse a key's signatures from now on")
    retire.add_argument("kid")
    retire.add_argument("--force", action="store_true", help="even inside its grace")
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
