"""`mobile-sim`: the simulated e-card app on the command line.

    mobile-sim ecard apply --name 张三 --id-number 11010519491231002X --phone 13800138000
    mobile-sim ecard show
    mobile-sim ecard unlock
    mobile-sim scan SOURCE [--account legal_rep:CODE] [--face capture|fail]
                           [--confirm|--reject]

The face check is the server's: the app answers its liveness challenge with the person's face
from the faces folder (--faces, default $MOBILE_SIM_FACES), kept apart from the phone's home.
    mobile-sim verify SOURCE [--jwks-url URL]
    mobile-sim serve [--port 8702]

Exit codes: 0 done, 1 refused (by the phone, the broker or the user), 2 usage, 3 broker (or
certificate keys) unreachable."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn

from mobile_sim import present
from mobile_sim.cli_scan import AccountSpec, ScanOptions, parse_face, run_scan
from mobile_sim.console import Console
from mobile_sim.errors import PhoneError, Unreachable, UsageError
from mobile_sim.phone import PhoneApp

DEFAULT_HOME = "~/.mobile-sim"
DEFAULT_BROKER = "http://127.0.0.1:8700"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
COMPANY_ROLES = ("legal_rep", "agent", "admin")
CARD_STATUS = {"active": "正常", "suspended": "暂停使用", "lost": "已挂失", "cancelled": "已注销"}
Command = Callable[[PhoneApp, argparse.Namespace, Console], Awaitable[int]]


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors in Chinese first and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"参数错误：{message}\nUsage error: {message}\n")


def _face(text: str) -> dict[str, object]:
    try:
        return parse_face(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            "--face 应为 capture（采集本人人脸）或 fail（模拟失败） " + str(exc)
        ) from exc


def _account(text: str) -> AccountSpec:
    role, _, code = text.partition(":")
    if role in COMPANY_ROLES or (role in ("personal", "staff") and not code):
        return AccountSpec(role, code.strip().upper())
    raise argparse.ArgumentTypeError(
        f"无法识别的账号 {text!r}：应为 personal、legal_rep[:统一社会信用代码]、"
        "agent[:代码]、admin[:代码] 或 staff"
    )


def _common(*, root: bool) -> Parser:
    """--home, --broker, --json and --place, accepted before or after the command."""
    common = Parser(add_help=False)

    def default(value: object) -> object:
        return value if root else argparse.SUPPRESS

    common.add_argument(
        "--home",
        default=default(os.environ.get("MOBILE_SIM_HOME", DEFAULT_HOME)),
        help="手机数据目录 (phone home folder, default ~/.mobile-sim)",
    )
    common.add_argument(
        "--broker",
        default=default(os.environ.get("MOBILE_SIM_BROKER", "")),
        help="认证服务地址 (broker URL; default $MOBILE_SIM_BROKER, the saved one, "
        f"or {DEFAULT_BROKER})",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="以 JSON 输出结果 (print one JSON object)",
    )
    common.add_argument(
        "--faces",
        default=default(os.environ.get("MOBILE_SIM_FACES", "")),
        help="本人人脸所在目录，与手机目录分开 (the people's faces folder, apart from --home)",
    )
    common.add_argument(
        "--place", default=default(None), help="手机所在地，保存在手机中 (the phone's place, saved)"
    )
    return common


def build_parser() -> Parser:
    root = Parser(
        prog="mobile-sim",
        description="电子社保卡模拟器 (simulated e-card app)",
        parents=[_common(root=True)],
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_common(root=False)]
    ecard = commands.add_parser(
        "ecard", parents=common, help="电子社保卡：申领、查看 (apply, show)"
    )
    ecard_commands = ecard.add_subparsers(dest="ecard_command", required=True, metavar="ACTION")
    apply = ecard_commands.add_parser("apply", parents=common, help="申领电子社保卡 (apply)")
    apply.add_argument("--name", required=True, help="姓名")
    apply.add_argument("--id-number", required=True, help="公民身份号码")
    apply.add_argument("--phone", required=True, help="手机号码")
    apply.add_argument("--face", type=_face, default={"mode": "capture"}, help="capture|fail")
    apply.set_defaults(run=ecard_apply)
    ecard_commands.add_parser("show", parents=common, help="查看电子社保卡 (show)").set_defaults(
        run=ecard_show
    )
    unlock = ecard_commands.add_parser("unlock", parents=common, help="卡解挂，需人脸识别 (unlock)")
    unlock.add_argument("--face", type=_face, default={"mode": "capture"}, help="capture|fail")
    unlock.set_defaults(run=ecard_unlock)
    scan = commands.add_parser("scan", parents=common, help="扫一扫：扫码登录 (scan a login QR)")
    scan.add_argument("source", metavar="SOURCE", help="二维码截图文件或二维码内容")
    scan.add_argument(
        "--account", type=_account, help="personal|legal_rep[:CODE]|agent[:CODE]|admin[:CODE]|staff"
    )
    scan.add_argument("--face", type=_face, help="capture|fail (default capture)")
    scan.add_argument("--number", default="", help="电脑屏幕上显示的数字 (number matching)")
    decision = scan.add_mutually_exclusive_group()
    decision.add_argument("--confirm", dest="decision", action="store_const", const="confirm")
    decision.add_argument("--reject", dest="decision", action="store_const", const="reject")
    scan.set_defaults(run=scan_command, decision="")
    verify = commands.add_parser(
        "verify", parents=common, help="验证证明二维码 (verify a certificate QR)"
    )
    verify.add_argument("source", metavar="SOURCE", help="证明二维码截图文件或内容")
    verify.add_argument(
        "--jwks-url",
        default=os.environ.get("MOBILE_SIM_CERT_JWKS_URL"),
        help="证明验签公钥地址，保存在手机中 (certificate JWKS URL, saved)",
    )
    verify.set_defaults(run=verify_command)
    serve = commands.add_parser("serve", parents=common, help="手机页面 (the phone page)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8702)
    serve.set_defaults(run=None)
    return root


# --- commands ---------------------------------------------------------------------------
async def ecard_apply(phone: PhoneApp, args: argparse.Namespace, console: Console) -> int:
    answer = await phone.apply_ecard(
        args.name, args.id_number, args.phone, face=str(args.face["mode"])
    )
    card = present.card_view(phone.state.ecard, phone.state.card_no)
    console.result(
        {"card_no": answer["card_no"], "status": answer["status"]},
        "电子社保卡申领成功。",
        f"  姓名：{card['name_masked']}",
        f"  卡号：{card['card_no_masked']}",
        f"  状态：{CARD_STATUS.get(answer['status'], answer['status'])}",
    )
    return EXIT_OK


async def ecard_show(phone: PhoneApp, args: argparse.Namespace, console: Console) -> int:
    answer = await phone.show_ecard()
    card = present.card_view(phone.state.ecard, phone.state.card_no)
    status = str(answer.get("status", ""))
    console.result(
        {**answer, "name": card["name_masked"], "broker": phone.state.broker_url},
        "我的电子社保卡",
        f"  姓名：{card['name_masked']}",
        f"  公民身份号码：{answer.get('id_number_masked', '')}",
        f"  手机号码：{answer.get('phone_masked', '')}",
        f"  卡号：{card['card_no_masked']}",
        f"  状态：{CARD_STATUS.get(status, status)}",
        f"  认证服务：{phone.state.broker_url}",
    )
    return EXIT_OK


async def ecard_unlock(phone: PhoneApp, args: argparse.Namespace, console: Console) -> int:
    console.say("人脸识别中，请正对手机屏幕…")
    answer = await phone.unlock_ecard(face=str(args.face["mode"]))
    status = str(answer.get("status", ""))
    console.result(answer, "卡解挂成功。", f"  状态：{CARD_STATUS.get(status, status)}")
    return EXIT_OK


async def scan_command(phone: PhoneApp, args: argparse.Namespace, console: Console) -> int:
    options = ScanOptions(
        source=args.source,
        account=args.account,
        face=args.face,
        decision=args.decision,
        number=args.number,
    )
    return await run_scan(phone, options, console)


async def verify_command(phone: PhoneApp, args: argparse.Namespace, console: Console) -> int:
    cert = await phone.verify_certificate(args.source)
    console.result({"certificate": cert.as_dict()}, *present.certificate_lines(cert))
    return EXIT_OK


# --- running ----------------------------------------------------------------------------
def open_phone(args: argparse.Namespace) -> PhoneApp:
    phone = PhoneApp.open(
        Path(args.home).expanduser(),
        args.broker or "",
        place=args.place,
        certificate_jwks_url=getattr(args, "jwks_url", None),
        faces_dir=Path(args.faces).expanduser() if getattr(args, "faces", "") else None,
    )
    if not phone.state.broker_url:
        phone.state.use_broker(DEFAULT_BROKER)
        phone.state.save()
    return phone


async def _run(command: Command, args: argparse.Namespace, console: Console) -> int:
    async with open_phone(args) as phone:
        return await command(phone, args, console)


def run(args: argparse.Namespace) -> int:
    console = Console(as_json=args.json)
    try:
        if args.run is None:
            return serve(args)
        return asyncio.run(_run(args.run, args, console))
    except UsageError as exc:
        console.error(exc)
        return EXIT_USAGE
    except Unreachable as exc:
        console.error(exc)
        return EXIT_UNREACHABLE
    except PhoneError as exc:
        console.error(exc)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from mobile_sim.web import create_app

    phone = open_phone(args)
    broker_url = phone.state.broker_url
    app = create_app(phone.state.home, broker_url, host=args.host, faces_dir=phone.faces_dir)
    print(
        f"电子社保卡模拟页面：http://{args.host}:{args.port}/  （认证服务 {broker_url}）",
        flush=True,
    )
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return EXIT_OK


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(build_parser().parse_args(argv)))
