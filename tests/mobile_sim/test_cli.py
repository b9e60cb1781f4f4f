"""`mobile-sim` as real subprocesses against a real authsvc: output, stdin prompts, exit codes."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.mobile_sim.support import C1, C2, LI, ZHANG, Run, certificate_portal, cli_env, mobile_sim
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker, free_port


class Phone:
    """One CLI phone: its home folder and the broker it talks to."""

    def __init__(self, home: Path, broker: Broker) -> None:
        self.home, self.broker = home, broker

    async def __call__(self, *args: str, stdin: str = "", **kwargs: Any) -> Run:
        return await mobile_sim(
            "--home", str(self.home), "--broker", self.broker.url, *args, stdin=stdin, **kwargs
        )

    async def apply(self, person: dict[str, str] = ZHANG) -> None:
        run = await self(
            "ecard",
            "apply",
            "--name",
            person["name"],
            "--id-number",
            person["id_number"],
            "--phone",
            person["phone"],
        )
        assert run.code == 0, run.err


@pytest.fixture
async def phone(tmp_path: Path, memory_hall: Broker) -> Phone:
    cli = Phone(tmp_path / "cli-phone", memory_hall)
    await cli.apply()
    return cli


async def _browser(
    broker: Broker, http: aiohttp.ClientSession, identity: str = "personal"
) -> BrowserLogin:
    browser = BrowserLogin(broker.url, http)
    await browser.start(identity)
    return browser


async def test_ecard_apply_and_show(tmp_path: Path, memory_hall: Broker) -> None:
    """申领 prints the masked card; show reads it back from the broker; --json is one object."""
    cli = Phone(tmp_path / "p", memory_hall)
    applied = await cli(
        "ecard",
        "apply",
        "--name",
        "张三",
        "--id-number",
        ZHANG["id_number"],
        "--phone",
        ZHANG["phone"],
        script=True,
    )
    assert applied.code == 0 and "电子社保卡申领成功" in applied.out and "张*" in applied.out
    shown = await cli("--json", "ecard", "show")
    assert shown.code == 0
    body = shown.json()
    assert (
        body["ok"]
        and body["status"] == "active"
        and body["id_number_masked"] == "1101**********002X"
    )
    assert body["name"] == "张*" and "张三" not in shown.out


async def test_ecard_apply_refusals_exit_1(tmp_path: Path, memory_hall: Broker) -> None:
    """A failed face check or an invalid ID number is a refusal: exit 1 with the broker's words."""
    cli = Phone(tmp_path / "p", memory_hall)
    failed = await cli(
        "ecard",
        "apply",
        "--name",
        "张三",
        "--id-number",
        ZHANG["id_number"],
        "--phone",
        ZHANG["phone"],
        "--face",
        "fail",
    )
    assert failed.code == 1 and "人脸识别未通过" in failed.err and "face_check_failed" in failed.err
    invalid = await cli(
        "--json",
        "ecard",
        "apply",
        "--name",
        "张三",
        "--id-number",
        "110105194912310021",
        "--phone",
        ZHANG["phone"],
    )
    assert invalid.code == 1 and invalid.json()["error"] == "id_number_invalid"


async def test_interactive_scan_choose_the_second_company_and_confirm(
    phone: Phone, http: aiohttp.ClientSession
) -> None:
    """Without flags it shows who asks, numbers the accounts, asks which, face check, 确认登录?"""
    browser = await _browser(phone.broker, http, "legal_rep")
    ws = await browser.socket()
    run = await phone("--place", "哈尔滨", "scan", browser.ticket["qr_text"], stdin="2\ny\n")
    assert run.code == 0, run.err
    for expected in (
        "“测试服务大厅”请求以电子社保卡登录（法人扫码登录）",
        "电脑 IP：127.0.0.1",
        "大致位置：本机",
        "请求时间：",
        "将向“测试服务大厅”提供：姓名、社会保障号码、登录身份、单位名称及统一社会信用代码、单位授权信息",
        "⚠ 注意",
        "请选择登录方式（个人登录 / 单位登录）",
        f"[1] 单位登录 · 法定代表人 · {C1['company_name']}（{C1['credit_code']}）",
        f"[2] 单位登录 · 法定代表人 · {C2['company_name']}",
        "[3] 单位登录 · 管理员",
        "人脸识别通过",
        "确认以电子社保卡身份登录“测试服务大厅”？[y/N]",
        "登录成功",
    ):
        assert expected in run.out, expected
    await wait_for_state(ws, "confirmed")
    stored = await phone.broker.store.get_ticket(browser.ticket["ticket_id"])
    assert stored is not None and stored.account["credit_code"] == C2["credit_code"]
    await ws.close()


async def test_answering_no_cancels_and_exits_1(phone: Phone, http: aiohttp.ClientSession) -> None:
    """确认登录? N → 取消: the browser is pushed rejected; exit 1 (the login did not happen)."""
    browser = await _browser(phone.broker, http)
    ws = await browser.socket()
    run = await phone("scan", browser.ticket["qr_text"], stdin="1\nn\n")
    assert run.code == 1 and "已取消登录" in run.out
    assert (await wait_for_state(ws, "rejected"))["reason"] == "user_rejected"
    await ws.close()


async def test_end_of_input_cancels_on_the_broker(
    phone: Phone, http: aiohttp.ClientSession
) -> None:
    """Closing stdin mid-prompt is 取消: exit 1, and the browser is not left waiting."""
    browser = await _browser(phone.broker, http)
    ws = await browser.socket()
    run = await phone("scan", browser.ticket["qr_text"], stdin="")
    assert run.code == 1 and "cancelled" in run.err
    await wait_for_state(ws, "rejected")
    await ws.close()


async def test_scan_a_png_with_flags_and_json(
    phone: Phone, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """--account/--confirm need no stdin; the PNG from authsvc's qr.png endpoint is the SOURCE."""
    browser = await _browser(phone.broker, http, "agent")
    async with http.get(phone.broker.url + browser.ticket["png_url"]) as response:
        (tmp_path / "screenshot.png").write_bytes(await response.read())
    ws = await browser.socket()
    run = await phone(
        "scan",
        str(tmp_path / "screenshot.png"),
        "--account",
        f"agent:{C1['credit_code']}",
        "--face",
        "capture",
        "--confirm",
        "--json",
    )
    assert run.code == 0, run.err
    body = run.json()
    assert body["state"] == "confirmed" and body["account"]["key"] == f"agent:{C1['credit_code']}"
    assert body["scan"]["portal"] == "测试服务大厅" and body["face"]["passed"] is True
    assert body["scan"]["claims"] == [
        "姓名",
        "社会保障号码",
        "登录身份",
        "单位名称及统一社会信用代码",
        "单位授权信息",
    ]
    assert "电脑 IP" in run.err  # the human part goes to stderr with --json
    await wait_for_state(ws, "confirmed")
    await ws.close()


async def test_reject_flag(phone: Phone, http: aiohttp.ClientSession) -> None:
    """--reject cancels right after showing who asks; exit 0 (done as asked)."""
    browser = await _browser(phone.broker, http)
    ws = await browser.socket()
    run = await phone("scan", browser.ticket["qr_text"], "--reject")
    assert run.code == 0 and "已取消登录“测试服务大厅”" in run.out
    await wait_for_state(ws, "rejected")
    await ws.close()


async def test_face_fail_then_retry_interactively(
    phone: Phone, http: aiohttp.ClientSession
) -> None:
    """A failed face check offers a retry with a chosen simulated result; then it confirms."""
    browser = await _browser(phone.broker, http)
    ws = await browser.socket()
    run = await phone(
        "scan",
        browser.ticket["qr_text"],
        "--account",
        "personal",
        "--face",
        "fail",
        stdin="y\npass\ny\n",
    )
    assert run.code == 0, run.err
    assert "人脸识别未通过，请重试" in run.out and "重新识别？[y/N]" in run.out
    await wait_for_state(ws, "confirmed")
    await ws.close()


async def test_face_fail_with_confirm_flag_exits_1_and_cancels(
    phone: Phone, http: aiohttp.ClientSession
) -> None:
    """Scripted runs do not retry: exit 1 with face_check_failed, and the login is cancelled."""
    browser = await _browser(phone.broker, http)
    ws = await browser.socket()
    run = await phone(
        "--json",
        "scan",
        browser.ticket["qr_text"],
        "--account",
        "personal",
        "--face",
        "fail",
        "--confirm",
    )
    assert run.code == 1 and run.json()["error"] == "face_check_failed"
    await wait_for_state(ws, "rejected")
    await ws.close()


async def test_an_account_not_offered_exits_1(phone: Phone, http: aiohttp.ClientSession) -> None:
    """Asking for a company this person does not represent lists what was offered."""
    browser = await _browser(phone.broker, http, "legal_rep")
    run = await phone(
        "scan", browser.ticket["qr_text"], "--account", "legal_rep:91230100MA1GG1Y70R", "--confirm"
    )
    assert run.code == 1 and "所选账号不可用" in run.err and C1["credit_code"] in run.err


async def test_a_second_phone_is_refused(
    phone: Phone, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """The second CLI phone to scan gets 二维码已被扫描 and exit 1."""
    second = Phone(tmp_path / "second", phone.broker)
    await second.apply(LI)
    browser = await _browser(phone.broker, http)
    first = await phone("scan", browser.ticket["qr_text"], "--account", "personal", "--reject")
    assert first.code == 0
    late = await second("scan", browser.ticket["qr_text"])
    assert late.code == 1 and "二维码已被扫描" in late.err


async def test_a_forged_qr_is_refused_offline(phone: Phone, http: aiohttp.ClientSession) -> None:
    """An altered QR: exit 1 with 此二维码不是本平台的登录二维码; no scan reaches the broker."""
    browser = await _browser(phone.broker, http)
    text = browser.ticket["qr_text"]
    altered = text[:-10] + ("A" if text[-10] != "A" else "B") + text[-9:]
    run = await phone("scan", altered)
    assert run.code == 1 and "此二维码不是本平台的登录二维码" in run.err
    records = await phone.broker.store.audit_records(200)
    assert not [r for r in records if r.get("outcome") == "scanned"]


async def test_unreachable_broker_exits_3(tmp_path: Path) -> None:
    """Nobody listening at --broker: exit 3 and a message naming the URL."""
    run = await mobile_sim(
        "--home",
        str(tmp_path / "p"),
        "--broker",
        "http://127.0.0.1:1",
        "ecard",
        "apply",
        "--name",
        "张三",
        "--id-number",
        ZHANG["id_number"],
        "--phone",
        ZHANG["phone"],
    )
    assert run.code == 3 and "无法连接认证服务（http://127.0.0.1:1）" in run.err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["scan"],
        ["scan", "x", "--face", "sometimes"],
        ["scan", "x", "--account", "boss"],
        ["scan", "x", "--confirm", "--reject"],
        ["ecard", "apply", "--name", "张三"],
        ["scan", "/no/such/screenshot.png"],
    ],
)
async def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    """Wrong or missing arguments, or a missing file: exit 2 with a Chinese-first message."""
    run = await mobile_sim("--home", str(tmp_path / "p"), "--broker", "http://127.0.0.1:1", *args)
    assert run.code == 2
    assert "参数错误" in run.err or "找不到文件" in run.err


async def test_options_work_after_the_command_and_home_defaults_to_home_dir(
    tmp_path: Path, memory_hall: Broker
) -> None:
    """--home/--broker/--json go anywhere; without --home the phone lives in ~/.mobile-sim."""
    env = cli_env(HOME=str(tmp_path), MOBILE_SIM_BROKER=memory_hall.url)
    run = await mobile_sim(
        "ecard",
        "apply",
        "--name",
        "张三",
        "--id-number",
        ZHANG["id_number"],
        "--phone",
        ZHANG["phone"],
        "--json",
        env=env,
    )
    assert run.code == 0 and run.json()["status"] == "active"
    assert (tmp_path / ".mobile-sim" / "state.json").exists()
    again = await mobile_sim("ecard", "show", "--json", env=cli_env(HOME=str(tmp_path)))
    assert again.code == 0 and again.json()["broker"] == memory_hall.url  # the saved broker


async def test_no_card_yet_exits_1(
    tmp_path: Path, memory_hall: Broker, http: aiohttp.ClientSession
) -> None:
    """Scanning before 申领 is refused by the phone itself."""
    browser = await _browser(memory_hall, http)
    run = await Phone(tmp_path / "empty", memory_hall)("scan", browser.ticket["qr_text"])
    assert run.code == 1 and "请先申领电子社保卡" in run.err


async def test_verify_a_certificate(tmp_path: Path) -> None:
    """verify prints what the certificate certifies and its exp; a tampered one exits 1."""
    async with certificate_portal() as portal:
        token = portal.sign(portal.keys[0])
        home = ["--home", str(tmp_path / "p")]
        good = await mobile_sim(*home, "verify", token, "--jwks-url", portal.url)
        assert good.code == 0, good.err
        for expected in (
            "验证通过：单位参保证明",
            "证明编号：ZM2024110500123",
            "参保险种：企业职工基本养老保险",
            "有效期至（exp）：",
        ):
            assert expected in good.out, expected
        bad = await mobile_sim(*home, "--json", "verify", token[:-4] + "AAAA")
        assert bad.code == 1 and bad.json()["error"] == "certificate_invalid"
    unreachable = await mobile_sim(
        "--home", str(tmp_path / "q"), "verify", token, "--jwks-url", portal.url
    )
    assert unreachable.code == 3


async def test_ctrl_c_at_a_prompt_cancels_at_once(
    phone: Phone, http: aiohttp.ClientSession
) -> None:
    """SIGINT while waiting for an answer: exit 130 without waiting for input; browser told."""
    browser = await _browser(phone.broker, http)
    ws = await browser.socket()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mobile_sim",
        "--home",
        str(phone.home),
        "--broker",
        phone.broker.url,
        "scan",
        browser.ticket["qr_text"],
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
        # A shell without job control starts background commands with SIGINT ignored, and the
        # child would inherit that: give it the terminal's default, as a user's shell does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    seen = b""
    while "请输入序号".encode() not in seen:
        chunk = await asyncio.wait_for(process.stdout.read(256), timeout=30)
        assert chunk, "the CLI ended before asking"
        seen += chunk
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), timeout=30) == 130
    await wait_for_state(ws, "rejected")
    await ws.close()


async def test_serve_runs_the_phone_page(tmp_path: Path, memory_hall: Broker) -> None:
    """`mobile-sim serve --port N` serves the page (what `make demo` runs on 8702)."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mobile_sim",
        "--home",
        str(tmp_path / "p"),
        "--broker",
        memory_hall.url,
        "serve",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert f"http://127.0.0.1:{port}/".encode() in banner
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/") as response:
                        html = await response.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)  # not yet listening: poll, not a speed assertion
            assert response.status == 200 and "扫一扫" in html
    finally:
        process.terminate()
        await process.wait()


async def test_ecard_unlock_needs_the_holders_face(
    phone: Phone, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """`ecard unlock` after 挂失: without the person's face it fails (exit 1, card still lost);
    with the face (the faces folder) the card is 正常 again."""
    card_no = json.loads((phone.home / "state.json").read_text())["card_no"]
    async with http.post(
        f"{phone.broker.url}/api/admin/ecards/{card_no}/report_lost",
        headers={"Authorization": "Bearer test-admin-token"},
    ) as response:
        assert response.status == 200
    faceless = await phone("--faces", str(tmp_path / "nobody"), "ecard", "unlock")
    assert faceless.code == 1 and "未找到本人人脸" in faceless.err
    failed = await phone("--json", "ecard", "unlock", "--face", "fail")
    assert failed.code == 1 and failed.json()["error"] == "face_check_failed"
    assert (await phone("--json", "ecard", "show")).json()["status"] == "lost"
    unlocked = await phone("ecard", "unlock")
    assert unlocked.code == 0 and "卡解挂成功" in unlocked.out and "正常" in unlocked.out
