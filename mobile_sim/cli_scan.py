"""`mobile-sim scan`: show who is asking, choose the account, face check, 确认登录 or 取消.

Every step the command line does not settle (--account, --confirm/--reject) is asked on stdin.
Once the phone holds the ticket, leaving early (an error, end of input, Ctrl-C) cancels the
login on the broker, so the browser is told at once instead of waiting for the QR to expire."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from mobile_sim import present
from mobile_sim.console import Cancelled, Console
from mobile_sim.errors import PhoneError
from mobile_sim.phone import PhoneApp, ScanResult
from mobile_sim.source import read_source

EXIT_OK, EXIT_REFUSED = 0, 1


@dataclass(frozen=True)
class AccountSpec:
    role: str
    credit_code: str = ""


@dataclass(frozen=True)
class ScanOptions:
    source: str
    account: AccountSpec | None = None
    face: dict[str, Any] | None = None
    decision: str = ""  # "confirm", "reject" or "" (ask)
    number: str = ""  # number matching: the number on the computer's screen, or "" (ask)


CANCEL_WAIT = 5.0


def cancelled() -> PhoneError:
    return PhoneError("cancelled", "已取消登录", "The login was cancelled on the phone")


async def run_scan(phone: PhoneApp, options: ScanOptions, console: Console) -> int:
    text = read_source(options.source)
    result = await phone.scan(text)
    console.say(*scan_lines(result, phone.state.place))
    try:
        return await _decide(phone, result, options, console)
    except Cancelled:
        await _cancel_quietly(phone)
        raise cancelled() from None
    except (asyncio.CancelledError, KeyboardInterrupt):  # Ctrl-C
        console.say("", "已取消登录 (cancelled)")
        await _cancel_quietly(phone)
        raise
    except PhoneError as exc:
        if exc.code not in ("face_check_exhausted", "ticket_state_conflict", "number_mismatch"):
            await _cancel_quietly(phone)
        raise


async def _decide(
    phone: PhoneApp, result: ScanResult, options: ScanOptions, console: Console
) -> int:
    portal = present.portal_name(result.client)
    if options.decision == "reject":
        await phone.reject()
        console.result(_body(result, phone, "rejected"), f"已取消登录“{portal}”。")
        return EXIT_OK
    await _match_number(phone, result, options.number, console)
    account = await _choose_account(result, options.account, console)
    await phone.choose(account["key"], with_face_check=True)
    console.say(f"登录身份：{present.account_line(account)}")
    face = await _face_check(phone, options, console)
    if options.decision == "confirm" or await console.yes_no(
        f"确认以电子社保卡身份登录“{portal}”？[y/N] "
    ):
        await phone.confirm()
        body = {
            **_body(result, phone, "confirmed"),
            "account": present.account_view(account),
            "face": face,
        }
        console.result(body, f"登录成功：已确认登录“{portal}”，电脑端将自动进入系统。")
        return EXIT_OK
    await phone.reject()
    console.result(_body(result, phone, "rejected"), f"已取消登录“{portal}”。")
    return EXIT_REFUSED


def _body(result: ScanResult, phone: PhoneApp, state: str) -> dict[str, Any]:
    return {"state": state, "scan": present.scan_view(result, phone.state.place)}


def scan_lines(result: ScanResult, phone_place: str) -> list[str]:
    view = present.scan_view(result, phone_place)
    lines = [
        f"“{view['portal']}”请求以电子社保卡登录（{view['identity']}）",
        f"  电脑 IP：{view['ip']}",
        f"  大致位置：{view['place']}",
        f"  浏览器/系统：{view['browser']} / {view['os']}",
        f"  请求时间：{view['requested_at']}",
        f"  {view['release']}",
    ]
    if view["place_warning"]:
        lines.append(f"  ⚠ 注意：{view['place_warning']}")
    return lines


async def _match_number(phone: PhoneApp, result: ScanResult, number: str, console: Console) -> None:
    """Number matching: the portal asks the user to pick the number the computer shows."""
    if not result.number_choices:
        return
    if not number:
        console.say("请选择电脑屏幕上显示的数字：")
        for index, choice in enumerate(result.number_choices, start=1):
            console.say(f"  [{index}] {choice}")
        picked = await console.choose(f"请输入序号 [1-{len(result.number_choices)}]：", 3)
        number = result.number_choices[picked]
    await phone.pick_number(number)
    console.say(f"数字 {number} 与电脑一致。")


async def _choose_account(
    result: ScanResult, spec: AccountSpec | None, console: Console
) -> dict[str, Any]:
    offered = result.matching(spec.role, spec.credit_code) if spec else list(result.accounts)
    if not offered:
        raise _not_offered(result, spec)
    if spec and len(offered) == 1:
        return offered[0]
    console.say("请选择登录方式（个人登录 / 单位登录）：")
    for number, account in enumerate(offered, start=1):
        console.say(f"  [{number}] {present.account_line(account)}")
    numbers = "1" if len(offered) == 1 else f"1-{len(offered)}"
    index = await console.choose(f"请输入序号 [{numbers}]：", len(offered))
    return offered[index]


def _not_offered(result: ScanResult, spec: AccountSpec | None) -> PhoneError:
    wanted = f"{spec.role}:{spec.credit_code}" if spec else ""
    keys = "、".join(str(a.get("key", "")) for a in result.accounts)
    return PhoneError(
        "account_not_offered",
        f"所选账号不可用（{wanted}），可选：{keys}",
        f"That account ({wanted}) was not offered; offered: {keys}",
    )


async def _face_check(phone: PhoneApp, options: ScanOptions, console: Console) -> dict[str, Any]:
    face = options.face or {"mode": "capture"}
    while True:
        console.say("人脸识别中，请正对手机屏幕…")
        try:
            answer = await phone.face_check(str(face["mode"]))
        except PhoneError as exc:
            if exc.code != "face_check_failed" or options.decision:
                raise
            face = await _retry(console, exc)
            continue
        console.say("人脸识别通过。")
        return answer


async def _retry(console: Console, failure: PhoneError) -> dict[str, Any]:
    """After a failed face check, interactively: try again, capturing the face or failing."""
    console.say(f"{failure.zh}")
    if not await console.yes_no("重新识别？[y/N] "):
        raise Cancelled("no retry")
    answer = await console.ask("采集本人人脸 capture / 模拟失败 fail [capture]：")
    try:
        return parse_face(answer or "capture")
    except ValueError:
        console.say("无法识别，按 capture 处理 (not understood; capturing the face)")
        return {"mode": "capture"}


def parse_face(text: str) -> dict[str, Any]:
    """capture (the person's own face; `pass` is an old spelling of it) | fail (look away).
    Which outcome it has is the server's decision."""
    value = text.strip().lower()
    if value in ("capture", "pass"):
        return {"mode": "capture"}
    if value == "fail":
        return {"mode": "fail"}
    raise ValueError(f"face must be capture or fail, not {text!r}")


async def _cancel_quietly(phone: PhoneApp) -> None:
    """Tell the broker (so the browser learns at once), but never hold up a cancel for long:
    Ctrl-C ends the program within CANCEL_WAIT seconds whatever the network does."""
    with contextlib.suppress(PhoneError, TimeoutError):
        async with asyncio.timeout(CANCEL_WAIT):
            await phone.reject()
