"""The phone page's JSON endpoints: thin wrappers over PhoneApp (no second login flow here).

Every POST passes the guard (same Origin + per-page token) before it gets here."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import BodyPartReader, web

from authsvc.core import language
from mobile_sim import certificate
from mobile_sim.errors import PhoneError, UsageError
from mobile_sim.source import MAX_IMAGE_BYTES, MAX_TEXT_CHARS, decode_image
from mobile_sim.web.keys import SESSION
from mobile_sim.web.session import FINAL_CODES, Login, PhoneSession

routes = web.RouteTableDef()
MAX_JSON_BYTES = 16 * 1024
CHUNK = 64 * 1024


def lang_of(request: web.Request) -> str:
    """?lang=en, else the Accept-Language the phone's browser sends (negotiated by Babel)."""
    chosen = language.explicit(request.query.get("lang", ""))
    return chosen or language.negotiate(request.headers.get("Accept-Language", ""))


def answer(request: web.Request, session: PhoneSession, **extra: Any) -> web.Response:
    return web.json_response(
        {**session.view(lang_of(request)), **extra},
        dumps=lambda v: json.dumps(v, ensure_ascii=False),
    )


def bad_request(what: str) -> UsageError:
    return UsageError("invalid_request", f"请求参数错误：{what}", f"Invalid request: {what}")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The one bounded JSON body reader of mobile_sim's web API: at most MAX_JSON_BYTES, an
    object, and anything else (not JSON, nested too deep, not an object) a usage error."""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise bad_request("body too large")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise bad_request("body too large")
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise bad_request("not JSON") from exc
    if not isinstance(body, dict):
        raise bad_request("not a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, max_len: int = 64) -> str:
    value = body.get(name)
    if not isinstance(value, str) or len(value) > max_len:
        raise bad_request(name)
    return value.strip()


def face_of(body: Any) -> str:
    """What the person does in front of the camera, chosen on the page: capture their face, or
    look away (fail, to show retries). Whether it passes is the server's decision."""
    if not isinstance(body, dict) or body.get("mode") not in ("capture", "pass", "fail"):
        raise bad_request("face")
    return "fail" if body["mode"] == "fail" else "capture"


@routes.get("/api/state")
async def state(request: web.Request) -> web.Response:
    session = request.app[SESSION]
    async with session.lock:
        await session.refresh_card()
    return answer(request, session)


@routes.post("/api/ecard")
async def apply_ecard(request: web.Request) -> web.Response:
    session = request.app[SESSION]
    body = await read_json(request)
    async with session.lock:
        await session.phone.apply_ecard(
            text_field(body, "name"),
            text_field(body, "id_number"),
            text_field(body, "phone"),
            face=face_of(body.get("face")),
        )
        session.login = None
        await session.refresh_card()
    return answer(request, session)


@routes.post("/api/place")
async def set_place(request: web.Request) -> web.Response:
    session = request.app[SESSION]
    place = text_field(await read_json(request), "place", max_len=40)
    session.phone.state.place = place
    session.phone.state.save()
    return answer(request, session)


async def _qr_text(request: web.Request) -> str:
    """An uploaded screenshot (decoded here with zxing-cpp) or the pasted QR text."""
    if request.content_type != "multipart/form-data":
        return text_field(await read_json(request), "text", max_len=MAX_TEXT_CHARS)
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "image":
            return await asyncio.to_thread(decode_image, await _read_part(part))
    raise bad_request("image")


async def _read_part(part: BodyPartReader) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > MAX_IMAGE_BYTES:
            raise PhoneError(
                "image_too_large",
                "图片过大，请裁剪后重试",
                "The image is too large; crop it and try again",
                413,
            )
    return bytes(data)


@routes.post("/api/scan")
async def scan(request: web.Request) -> web.Response:
    """扫一扫: a login QR starts a login; a certificate QR (单位参保证明, 受理单) is verified
    offline against the pinned portal keys, as `mobile-sim verify` does."""
    session = request.app[SESSION]
    text = await _qr_text(request)
    async with session.lock:
        session.forget_certificate()
        if certificate.looks_like_certificate(text):
            try:
                session.certificate = await session.phone.verify_certificate(text)
            except PhoneError as exc:
                if exc.code not in ("certificate_invalid", "certificate_expired"):
                    raise
                session.certificate_refusal = exc.as_dict()["message"]
            return answer(request, session)
        result = await session.phone.scan(text)
        session.login = Login(result)
    return answer(request, session)


async def _step(session: PhoneSession, run: Any) -> Login:
    """Run one step of the login in progress; a final refusal ends it (outcome screen)."""
    async with session.lock:
        login = session.current()
        try:
            await run(login)
        except PhoneError as exc:
            if exc.code == "face_check_failed":
                login.failures += 1
            elif exc.code in FINAL_CODES:
                login.fail(exc)
            raise
        return login


@routes.post("/api/number")
async def pick_number(request: web.Request) -> web.Response:
    """Number matching: the number the user picked among the three."""
    session = request.app[SESSION]
    number = text_field(await read_json(request), "number", max_len=2)

    async def run(login: Login) -> None:
        await session.phone.pick_number(number)
        login.number_matched = True

    await _step(session, run)
    return answer(request, session)


@routes.post("/api/account")
async def choose_account(request: web.Request) -> web.Response:
    session = request.app[SESSION]
    key = text_field(await read_json(request), "key")

    async def run(login: Login) -> None:
        await session.phone.choose(key, with_face_check=True)
        login.account_key, login.face_passed = key, False

    await _step(session, run)
    return answer(request, session)


@routes.post("/api/face")
async def face_check(request: web.Request) -> web.Response:
    session = request.app[SESSION]
    face = face_of(await read_json(request))

    async def run(login: Login) -> None:
        await session.phone.face_check(face)
        login.face_passed = True

    await _step(session, run)
    return answer(request, session)


@routes.post("/api/confirm")
async def confirm(request: web.Request) -> web.Response:
    session = request.app[SESSION]

    async def run(login: Login) -> None:
        await session.phone.confirm()
        login.outcome = "confirmed"

    await _step(session, run)
    return answer(request, session)


@routes.post("/api/reject")
async def reject(request: web.Request) -> web.Response:
    session = request.app[SESSION]

    async def run(login: Login) -> None:
        await session.phone.reject()
        login.outcome = "rejected"

    await _step(session, run)
    return answer(request, session)


@routes.post("/api/done")
async def done(request: web.Request) -> web.Response:
    """Back to the home screen; a login still in progress is cancelled first (取消)."""
    session = request.app[SESSION]
    async with session.lock:
        session.forget_certificate()
        login, session.login = session.login, None
        if login is not None and not login.outcome:
            try:
                await session.phone.reject()
            except PhoneError as exc:
                if exc.code not in FINAL_CODES:
                    raise
    return answer(request, session)
