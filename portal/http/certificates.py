"""The certificate keys (JWKS at a well-known URL) and the portal's own verification page.

mobile_sim/README.md, "Certificate QR contract": the phone pins
`{public_url}/.well-known/cert-jwks.json` and verifies offline; an ordinary scanner opens
`{public_url}/cert/verify#TOKEN`, whose script sends the token (never in a URL, so never in a
log) to `/api/cert/verify`.
"""

from __future__ import annotations

import json

from aiohttp import web

from portal.documents import certificate
from portal.documents.keyring import CertKeyring
from portal.errors import BodyTooLarge, InvalidRequest
from portal.http.keys import BUSINESS_CLOCK, SETTINGS
from portal.http.render import render

routes = web.RouteTableDef()
CERT_KEYS = web.AppKey("cert_keys", CertKeyring)
JWKS_PATH = "/.well-known/cert-jwks.json"
MAX_TOKEN = 4096


def keyring_of(app: web.Application) -> CertKeyring:
    return app[CERT_KEYS]


def published_keys(app: web.Application) -> dict[str, dict[str, object]]:
    settings = app[SETTINGS]
    document = app[CERT_KEYS].jwks(now=app[BUSINESS_CLOCK](), issuer=settings.public_url)
    return {str(k["kid"]): k for k in document["keys"]}


@routes.get(JWKS_PATH)
async def jwks(request: web.Request) -> web.Response:
    """The public keys of every certificate still valid; any origin may read them."""
    app = request.app
    document = app[CERT_KEYS].jwks(now=app[BUSINESS_CLOCK](), issuer=app[SETTINGS].public_url)
    return web.json_response(
        document,
        content_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@routes.get(certificate.VERIFY_PATH)
async def verify_page(request: web.Request) -> web.Response:
    return render(request, "certificates/verify.html")


@routes.post("/api/cert/verify")
async def verify_api(request: web.Request) -> web.Response:
    """What the token certifies, or certificate_invalid / certificate_expired."""
    if (request.content_length or 0) > MAX_TOKEN + 128:
        raise BodyTooLarge(str(request.content_length))
    body = b""
    while chunk := await request.content.read(MAX_TOKEN + 129 - len(body)):
        body += chunk
        if len(body) > MAX_TOKEN + 128:
            raise BodyTooLarge()
    try:
        token = str(json.loads(body)["token"]).strip().rpartition("#")[2]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest("token") from exc
    claims = certificate.verify(
        token,
        published_keys(request.app),
        issuer=request.app[SETTINGS].public_url,
        now=request.app[BUSINESS_CLOCK](),
    )
    return web.json_response({"ok": True, "claims": claims})
