"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from authsvc import errors
from authsvc.http.common import broker, json_response

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    b = broker(request)
    try:
        await b.store.ping()
    except errors.QrAuthError:
        return json_response({"status": "unavailable", "store": b.store.name}, status=503)
    return json_response({"status": "ready", "store": b.store.name})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(broker(request).metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
