"""What lives on the phone page's application (typed app keys)."""

from __future__ import annotations

import jinja2
from aiohttp import web

from mobile_sim.web.guard import Guard
from mobile_sim.web.session import PhoneSession

SESSION = web.AppKey("session", PhoneSession)
GUARD = web.AppKey("guard", Guard)
JINJA = web.AppKey("jinja", jinja2.Environment)
