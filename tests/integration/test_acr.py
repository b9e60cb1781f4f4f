"""acr/amr say what really happened (OIDC Core §2, RFC 8176); a relying party asks for a level
with acr_values (§3.1.2.1) and gets a clear error when it cannot be met."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from authsvc.core.acr import ACR_ECARD, ACR_FACE
from tests.conftest import PhoneFactory
from tests.integration.test_oidc import code_of, redeem, verify_id_token
from tests.security.helpers import phone_refused
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker


async def _token_claims(
    authsvc: Broker,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    *,
    face: bool,
    acr_values: str = "",
) -> dict[str, object]:
    browser = BrowserLogin(authsvc.url, http)
    await browser.open_page("personal", **({"acr_values": acr_values} if acr_values else {}))
    await browser.new_ticket("personal")
    ws = await browser.socket()
    phone = await phones(authsvc.url)
    result = await phone.scan(browser.ticket["qr_text"])
    assert result.face["required"] is (acr_values != ACR_ECARD)
    assert ("face_challenge" in result.raw) is result.face["required"]  # the scan brings it
    await phone.choose(result.account("personal")["key"])
    if face:
        await phone.face_check()
    await phone.confirm()
    redirect = (await wait_for_state(ws, "confirmed"))["redirect"]
    await ws.close()
    status, body = await redeem(http, authsvc, browser, code_of(redirect))
    assert status == 200, body
    return await verify_id_token(http, authsvc, body["id_token"])


async def test_default_login_is_face_checked(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Without acr_values the face check is required and the token says so."""
    claims = await _token_claims(authsvc, http, phones, face=True)
    assert claims["acr"] == ACR_FACE and claims["amr"] == ["qr", "ecard", "hwk", "face"]


async def test_requiring_the_face_level_refuses_confirming_without_it(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """acr_values=…ecard-qr-face: confirming without the server's face check is refused."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.open_page("personal", acr_values=ACR_FACE)
    await browser.new_ticket("personal")
    phone = await phones(authsvc.url)
    result = await phone.scan(browser.ticket["qr_text"])
    await phone.choose(result.account("personal")["key"])
    await phone_refused(phone.confirm(), 403, "face_check_required")


async def test_the_ecard_level_without_a_face_check_says_so(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A relying party content with the e-card level gets it without a face check, and the
    token does not claim one; with the face check done anyway, it says face."""
    plain = await _token_claims(authsvc, http, phones, face=False, acr_values=ACR_ECARD)
    assert plain["acr"] == ACR_ECARD and plain["amr"] == ["qr", "ecard", "hwk"]
    faced = await _token_claims(authsvc, http, phones, face=True, acr_values=ACR_ECARD)
    assert faced["acr"] == ACR_FACE and "face" in faced["amr"]  # type: ignore[operator]


async def test_unsupported_acr_values_are_an_error_at_the_redirect_uri(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """No requested level can be met: unmet_authentication_requirements, before any ticket."""
    browser = BrowserLogin(authsvc.url, http)
    params = {
        "response_type": "code",
        "client_id": "hall",
        "redirect_uri": browser.redirect_uri,
        "scope": "openid",
        "state": "s1",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
        "acr_values": "urn:example:loa:4",
    }
    async with http.get(
        authsvc.url + "/authorize", params=params, allow_redirects=False
    ) as response:
        assert response.status in (302, 303)
        query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["unmet_authentication_requirements"] and query["state"] == ["s1"]


async def test_discovery_lists_both_levels(authsvc: Broker, http: aiohttp.ClientSession) -> None:
    """Discovery names the face-checked level first, then the e-card level."""
    async with http.get(authsvc.url + "/.well-known/openid-configuration") as response:
        meta = await response.json()
    assert meta["acr_values_supported"] == [ACR_FACE, ACR_ECARD]
