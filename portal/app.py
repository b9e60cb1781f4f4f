"""create_app(settings): the service hall as one aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from portal import registries
from portal.clock import Clock, utcnow
from portal.config import Settings
from portal.db.engine import make_engine, make_sessionmaker, require_head, upgrade
from portal.documents.keyring import CertKeyring
from portal.http import (
    accessibility,
    api,
    auth,
    batch,
    business,
    certificates,
    counter,
    documents,
    mybusiness,
    ops,
    pages,
    review,
    usercenter,
)
from portal.http.keys import (
    BUSINESS_CLOCK,
    CLOCK,
    DB,
    ENGINE,
    METRICS,
    PROVIDER,
    REGISTRIES,
    SETTINGS,
    WINDOW,
)
from portal.http.middleware import csrf, errors, security_headers
from portal.http.session import session_middleware
from portal.metrics import Metrics
from portal.oidc.provider import Provider
from portal.rules import window
from portal.services import housekeeping

HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    registry_data: registries.Registries | None = None,
    business_clock: Clock | None = None,
) -> web.Application:
    """Build the application; the database is opened on startup, and migrated there only if
    `migrate_on_start` (otherwise a schema behind the code refuses to start).

    `business_clock` (default: `clock`) times business handling — the business window and the
    applications' timestamps — apart from logins, whose ID tokens follow authsvc's clock."""
    if not settings.session_secret:  # one process: a random secret is as good as any
        settings = settings.with_(session_secret=secrets.token_bytes(32))
    app = web.Application(
        middlewares=[ops.count_requests, security_headers, errors, session_middleware, csrf],
        client_max_size=settings.max_upload_bytes + 64 * 1024,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[CLOCK] = clock
    app[BUSINESS_CLOCK] = business_clock or clock
    app[WINDOW] = window.parse(settings.business_window, settings.business_tz)
    app[REGISTRIES] = registry_data or registries.load()
    app[PROVIDER] = Provider(
        settings.authsvc_issuer,
        settings.client_id,
        settings.client_secret,
        settings.http_timeout_seconds,
        settings.jwks_min_refetch_seconds,
        settings.jwks_max_age_seconds,
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app[certificates.CERT_KEYS] = CertKeyring.open(settings.cert_keys_dir, now=clock())
    for module in (
        pages,
        usercenter,
        business,
        mybusiness,
        review,
        counter,
        auth,
        api,
        certificates,
        documents,
        batch,
        accessibility,
        ops,
    ):
        app.router.add_routes(module.routes)
    app.router.add_static("/static", HERE / "static", name="static")
    app.cleanup_ctx.append(_database)
    app.on_cleanup.append(_close_provider)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = make_engine(settings.database_url)
    if settings.migrate_on_start:
        await upgrade(engine)
    else:
        await require_head(engine)
    app[ENGINE] = engine
    app[DB] = make_sessionmaker(engine, app[CLOCK])
    purger = asyncio.create_task(housekeeping.run(app[DB], app[CLOCK]))
    yield
    purger.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await purger
    await engine.dispose()


async def _close_provider(app: web.Application) -> None:
    await app[PROVIDER].close()
