"""批量增员 / 批量减员 through HTTP with the real authsvc and mobile_sim logins, on SQLite and
PostgreSQL: valid rows become one application, every other row is listed with the seeds'
error (处理详情 → 结果) and changes nothing; a malformed file is refused whole."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.db.models import (
    Application,
    ApplicationPerson,
    AuditEntry,
    BatchFile,
    CoreInsurance,
    CorePerson,
)
from portal.documents import batch
from portal.http.keys import DB
from portal.rules import items
from tests.conftest import PhoneFactory
from tests.support.databases import KINDS, fresh_database
from tests.support.hall import C1, Hall, running_hall

from .business_support import LIU, PENSION, U1, WANG, BusinessClock, Desk, code_of, desk
from .business_support import relationship_id as relationship_of

XLSX = batch.XLSX_TYPE
ENROL_ROWS: list[tuple[list[Any], str]] = [
    (["冯晓东", "230104199602185124", "2026-11", 5000], "ok"),
    (["陈志远", "230104199805305157", "2026-10", "5200"], "ok"),
    (
        ["杨帆", "230111199308132789", "2026-11", 5000],
        "person_not_collected",
    ),  # 未获取到人员基本信息
    (["韩梅", "230105198806206232", "2026-11", 5000], "flexible_employment"),
    (["朱建华", "230106198307057347", "2026-11", 5000], "pension_already_insured"),
    (["秦少军", "230107199109188451", "2026-11", 5000], "duplicate_person"),  # 多条人员信息
    (["许晴", "230109199502019569", "2026-11", 5000], "hukou_missing"),  # 户籍性质为空
    (["何磊", "230110198604281673", "2026-08", 5000], "benefits_paid"),  # 失业金发放
    (["褚文静", "230104199708115183", "2026-01", 5000], "backdate_limit"),  # 往前补六个月
    (["卫强国", "230104198911235215", "2026-11", 5000], "person_name_mismatch"),
    (["蒋丽华", "230104199403065243", "2026-11", 5000], "invalid_id_number"),
    (["蒋丽华", "230104199403065242", "2026-11", None], "invalid_field"),
    (["冯晓东", "230104199602185124", "2026-12", 5000], "batch_duplicate_row"),
]


@pytest.fixture
def clock() -> BusinessClock:
    return BusinessClock()  # 2026-12-10 10:00 Beijing: inside the business window


@pytest.fixture(params=KINDS)
async def hall(
    request: pytest.FixtureRequest, tmp_path: Path, clock: BusinessClock
) -> AsyncIterator[Hall]:
    async with (
        fresh_database(request.param, tmp_path) as url,
        running_hall(tmp_path, database_url=url, business_clock=clock) as running,
    ):
        yield running


def workbook(item: str, rows: list[list[Any]], *, extra: dict[str, Any] | None = None) -> bytes:
    """The downloaded template with `rows` from row 2 and `extra` cells set as given."""
    spec = batch.spec_for(items.get(item))
    book = load_workbook(io.BytesIO(batch.template_xlsx(spec)))
    sheet = book[spec.sheet]
    for r, row in enumerate(rows, 2):
        for c, value in enumerate(row, 1):
            sheet.cell(row=r, column=c, value=value)
    for cell, value in (extra or {}).items():
        sheet[cell] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(
    desk_: Desk, item: str, relationship: int, data: bytes, name: str = "名单.xlsx"
) -> tuple[int, str, str]:
    """The upload form as a browser sends it: (status, page, final path)."""
    _, page = await desk_.get(f"/uc/{C1}/batch")
    token = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert token
    form = aiohttp.FormData()
    form.add_field("_csrf", token.group(1))
    form.add_field("item", item)
    form.add_field("relationship", str(relationship))
    form.add_field("file", data, filename=name, content_type=XLSX)
    async with desk_.http.post(f"{desk_.hall.portal_url}/uc/{C1}/batch", data=form) as response:
        return response.status, await response.text(), response.url.path


async def snapshot(hall: Hall) -> dict[str, int]:
    """Rows a refused file must leave as they were."""
    models = (Application, ApplicationPerson, BatchFile, AuditEntry, CorePerson, CoreInsurance)
    async with hall.portal[DB]() as db:
        return {
            m.__tablename__: int(await db.scalar(select(func.count()).select_from(m)) or 0)
            for m in models
        }


def row_codes(page: str) -> list[tuple[int, str]]:
    return [(int(r), c) for r, c in re.findall(r'<tr data-row="(\d+)" data-code="([a-z_]+)"', page)]


async def test_valid_rows_become_one_application_and_every_seed_error_is_listed(
    hall: Hall, phones: PhoneFactory
) -> None:
    """批量增员: the two valid rows are one submitted application; each other row shows its
    seed error; the core system is unchanged; the same file again finds them pending. Then
    批量减员 from the CSV template the same way."""
    pension = await relationship_of(hall, U1, PENSION)
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        core_before = await snapshot(hall)
        status, page, path = await upload(
            rep, "enrol", pension, workbook("enrol", [row for row, _ in ENROL_ROWS])
        )
        assert status == 200 and re.fullmatch(rf"/uc/{C1}/batch/\d+", path), page[:500]
        assert row_codes(page) == [(n, code) for n, (_, code) in enumerate(ENROL_ROWS, 2)]
        assert "未获取到人员基本信息" in page and "该人员为灵活就业参保人员" in page
        assert "养老已参保，不能再办理参保" in page and "户籍性质为空" in page
        assert "根据身份证号码找到多条人员信息，无法办理此业务" in page
        assert "自参保开始日期下一月起，存在失业金发放信息" in page
        serial = re.search(r'data-serial="(\d+)"', page)
        assert serial, "the valid rows were submitted and got a serial number"
        async with hall.portal[DB]() as db:
            app = await db.scalar(select(Application).where(Application.serial_no == serial[1]))
            assert app is not None and app.state == "submitted" and app.item_code == "enrol"
            assert [(p.name, p.data) for p in app.persons] == [
                ("冯晓东", {"start_month": "2026-11", "base": 5000}),
                ("陈志远", {"start_month": "2026-10", "base": 5200}),
            ]
        after = await snapshot(hall)
        assert after["core_insurances"] == core_before["core_insurances"]
        assert after["applications"] == core_before["applications"] + 1
        _, listing = await rep.get(f"/uc/{C1}/batch")
        assert "处理详情" in listing and listing.count("data-batch=") == 1
        _, english = await rep.get(f"{path}?lang=en")
        assert "No base information for this person" in english and "未获取到" not in english
        await rep.get(f"{path}?lang=zh")  # the choice sticks to the session: back to Chinese
        _, again, _ = await upload(rep, "enrol", pension, workbook("enrol", [ENROL_ROWS[0][0]]))
        assert row_codes(again) == [(2, "pending_application")] and "data-serial" not in again
        stop_csv = (
            batch.template_csv(batch.spec_for(items.get("stop")))
            + (
                "赵春雷,230102198503122112,2026-12,辞职\r\n"
                "吴丽娜,230103199204153227,2026-12,辞职\r\n"  # insured at another unit
                "冯晓东,230104199602185124,2026-12,其他\r\n"  # not insured yet
            ).encode()
        )
        _, stopped, _ = await upload(rep, "stop", pension, stop_csv, "减员.csv")
        assert row_codes(stopped) == [(2, "ok"), (3, "not_insured_here"), (4, "not_insured_here")]
        assert "该人员在本单位无此险种的有效参保信息" in stopped and "data-serial" in stopped


FENG = ["冯晓东", "230104199602185124", "2026-11", 5000]
MALFORMED: list[tuple[str, bytes, str, str]] = [
    ("formula", workbook("enrol", [[*FENG[:3], "=4000+1000"]]), "名单.xlsx", "batch_formula"),
    (
        "extra column",
        workbook("enrol", [FENG], extra={"E1": "备注", "E2": "x"}),
        "名单.xlsx",
        "batch_extra_columns",
    ),
    (
        "wrong type",
        workbook("enrol", [[FENG[0], int(FENG[1]), *FENG[2:]]]),
        "名单.xlsx",
        "batch_wrong_type",
    ),
    (
        "too many rows",
        workbook("enrol", [FENG] * (batch.MAX_ROWS + 1)),
        "名单.xlsx",
        "batch_too_many_rows",
    ),
    ("not an xlsx", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "名单.xlsx", "batch_not_spreadsheet"),
    (
        "an old .xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64),
        "名单.xls",
        "batch_not_spreadsheet",
    ),
    ("empty", workbook("enrol", []), "名单.xlsx", "batch_empty"),
]


async def test_a_malformed_file_is_refused_whole_and_changes_nothing(
    hall: Hall, phones: PhoneFactory
) -> None:
    """Formulas, extra columns, wrong types, too many rows, not an XLSX, no rows: each its own
    code, the cells named, no application, no batch record, no audit line. An agent with no
    batch item granted sees none and a forged upload is 403."""
    pension = await relationship_of(hall, U1, PENSION)
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        async with rep.http.get(f"{hall.portal_url}/uc/{C1}/batch/template/enrol.xlsx") as r:
            book = load_workbook(io.BytesIO(await r.read()))
            assert [c.value for c in book.active[1]][:2] == ["姓名*", "公民身份号码*"]
        before = await snapshot(hall)
        for case, data, name, code in MALFORMED:
            status, page, _ = await upload(rep, "enrol", pension, data, name)
            assert status in (400, 415) and code_of(page) == code, case
            assert "整个文件未导入" in page, case
            assert await snapshot(hall) == before, case
        _, page, _ = await upload(rep, "enrol", pension, MALFORMED[0][1])
        assert "D2" in page  # the formula's cell is named
        # valid rows, but the item needs an attachment: the filing fails, the batch record too
        base = workbook("base_adjust", [["赵春雷", "230102198503122112", 6000]])
        status, page, _ = await upload(rep, "base_adjust", pension, base)
        assert status == 400 and code_of(page) == "attachment_required"
        assert await snapshot(hall) == before
    async with desk(hall, phones, LIU, "agent") as agent:  # 刘洋: certificate only
        _, page = await agent.get(f"/uc/{C1}/batch")
        assert 'data-code="item_forbidden"' in page
        before = await snapshot(hall)
        status, page, _ = await upload(
            agent, "enrol", pension, workbook("enrol", [ENROL_ROWS[0][0]])
        )
        assert status == 403 and code_of(page) == "item_forbidden"
        assert await snapshot(hall) == before
