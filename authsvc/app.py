"""The broker's aiohttp application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from authsvc import logs
from authsvc.accounts import AccountsProvider
from authsvc.clients import ClientRegistry
from authsvc.config import Settings
from authsvc.core.clock import Clock, SystemClock
from authsvc.http import admin, browser, ecard_api, mobile, oidc, openapi, ops, ws
from authsvc.http.appkeys import BROKER, JINJA, SOCKETS, WS_COUNTS
from authsvc.http.cors import cors_middleware
from authsvc.http.middleware import error_middleware
from authsvc.http.pages import STATIC, environment
from authsvc.http.wslimits import SocketCounts
from authsvc.keyring import Keyring
from authsvc.registry import FileRegistry, Registry
from authsvc.services import logout
from authsvc.services.broker import Broker
from authsvc.store import Store, open_store

KEY_RELOAD_SECONDS = 5.0  # authsvc.cli.KEY_RELOAD_SECONDS tells operators this figure


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    keyring: Keyring | None = None,
    clients: ClientRegistry | None = None,
    registry: Registry | None = None,
) -> web.Application:
    """Build the app; a store not given is opened at startup from the settings."""
    logs.route_to_stdlib()
    app = web.Application(
        middlewares=[cors_middleware, error_middleware],
        client_max_size=settings.limits.max_body_bytes,
    )
    app[JINJA] = environment()
    clock = clock or SystemClock()
    keyring = keyring or Keyring.load_or_create(settings.keys_dir, now=clock.now())
    clients = clients or ClientRegistry.load(settings.clients_file)
    registry = registry or FileRegistry(settings.registry_file)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        opened = store or await open_store(
            settings.redis_url,
            prefix=settings.redis_prefix,
            audit_path=settings.audit_log,
            db_path=settings.db_path,
            redis_cluster_url=settings.redis_cluster_url,
        )
        accounts = AccountsProvider(keyring, settings.issuer, settings.accounts_timeout)
        app[BROKER] = Broker(settings, opened, keyring, clients, clock, accounts, registry=registry)
        reloader = asyncio.create_task(_reload_keys(keyring))
        deliveries = asyncio.create_task(logout.deliver_forever(app[BROKER]))
        yield
        for task in (reloader, deliveries, *app[BROKER].background):
            task.cancel()
        await asyncio.gather(reloader, deliveries, *app[BROKER].background, return_exceptions=True)
        await accounts.close()
        if store is None:
            await opened.close()

    app.cleanup_ctx.append(lifecycle)
    app[SOCKETS] = set()
    app[WS_COUNTS] = SocketCounts(settings.limits)
    app.on_shutdown.append(ws.close_all)
    tables = (browser, mobile, ops, ws, oidc, admin, ecard_api, openapi)
    for table in (module.routes for module in tables):
        app.router.add_routes(table)
    app.router.add_static("/static", STATIC)
    return app


async def _reload_keys(keyring: Keyring) -> None:
    """Pick up `authsvc keys rotate` run against the same keys folder."""
    while True:
        await asyncio.sleep(KEY_RELOAD_SECONDS)
        keyring.reload_if_changed()
