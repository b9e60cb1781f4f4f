"""Everything that lives on the aiohttp application, typed (aiohttp's `AppKey`)."""

from __future__ import annotations

import jinja2
from aiohttp import web

from authsvc.http.wslimits import SocketCounts
from authsvc.services.broker import Broker

BROKER = web.AppKey("broker", Broker)
JINJA = web.AppKey("jinja", jinja2.Environment)
SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])  # open ones: closed at shutdown
WS_COUNTS = web.AppKey("ws_counts", SocketCounts)
