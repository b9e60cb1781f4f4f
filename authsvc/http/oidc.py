"""OpenID Connect endpoints beyond /authorize (discovery, JWKS, token, userinfo, end-session)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
