"""Typed keys for what lives on the application."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from portal.clock import Clock
from portal.config import Settings
from portal.metrics import Metrics
from portal.oidc.provider import Provider
from portal.registries import Registries
from portal.rules.window import Window

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[Any])
REGISTRIES = web.AppKey("registries", Registries)
PROVIDER = web.AppKey("provider", Provider)
CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
REQUEST_ID = web.RequestKey("request_id", str)
WINDOW = web.AppKey("window", Window)
BUSINESS_CLOCK = web.AppKey("business_clock", Clock)
