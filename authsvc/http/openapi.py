"""`GET /openapi.json`: the OpenAPI 3.1 description in openapi.yaml, with the issuer as server."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from authsvc.http.common import broker, json_response

routes = web.RouteTableDef()
SOURCE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def description() -> dict[str, Any]:
    """The description as loaded from openapi.yaml (read once)."""
    loaded: dict[str, Any] = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    return loaded


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response({**description(), "servers": [{"url": broker(request).settings.issuer}]})
