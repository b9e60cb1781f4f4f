"""Business handling end to end through HTTP: the real authsvc, mobile_sim phones and the
portal on SQLite and PostgreSQL, with the business clock set by each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.db.models import Agent, Application, Company
from portal.http.keys import DB
from portal.rules.idcard import check_digit
from tests.conftest import PhoneFactory
from tests.support.databases import KINDS, fresh_database
from tests.support.hall import C1, Hall, running_hall

from .business_support import (
    CHEN,
    LIU,
    PDF,
    PENSION,
    PNG,
    SUN,
    U1,
    UNEMPLOYMENT,
    WANG,
    ZHANG,
    BusinessClock,
    Desk,
    app_id_of,
    application,
    beijing,
    code_of,
    counts,
    desk,
    insured,
    relationship_id,
)

FENG = {
    "id_number": "230104199602185124",
    "name": "冯晓东",
    "start_month": "2026-10",
    "base": "5000",
}
YANG = ("230111199308132789", "杨帆")  # not in the core system
ZHAO_CL = ("230102198503122112", "赵春雷")  # insured at 23010010001
QIAN = ("230102199007272132", "钱秀英")  # insured at 23010010001, base 5100


@pytest.fixture
def clock() -> BusinessClock:
    return BusinessClock()


@pytest.fixture(params=KINDS)
async def hall(
    request: pytest.FixtureRequest, tmp_path: Path, clock: BusinessClock
) -> AsyncIterator[Hall]:
    async with (
        fresh_database(request.param, tmp_path) as url,
        running_hall(tmp_path, database_url=url, business_clock=clock) as running,
    ):
        yield running


async def grant(
    hall: Hall, rep: Desk, who: tuple[str, ...], units: list[int], items: list[str]
) -> None:
    """The legal representative sets exactly these grants for the agent."""
    async with hall.portal[DB]() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == C1))
        agent = await db.scalar(
            select(Agent).where(Agent.company_id == company.id, Agent.id_number == who[0])
        )
    data = [("relationship", str(u)) for u in units] + [("item", i) for i in items]
    status, _, _ = await rep.post(f"/uc/{C1}/agents/{agent.id}/grants", data)
    assert status == 200


async def test_each_item_filed_by_a_granted_agent_and_refused_without_the_grant(
    hall: Hall, phones: PhoneFactory
) -> None:
    """张伟, granted every item and the pension relationship, files each item and gets a serial
    number; 刘洋 (every item, not that relationship) and 陈静 (that relationship, no item) get 403
    and nothing is created; revoking a grant takes effect on the next click."""
    pension = await relationship_id(hall, U1, PENSION)
    everything = ["collect", "enrol", "stop", "base_adjust", "info_change", "rollback"]
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        await grant(hall, rep, ZHANG, [pension], everything)
        other_unit = await relationship_id(hall, "23010020002", PENSION)
        await grant(hall, rep, LIU, [other_unit], everything)
        assert (
            await rep.post(
                f"/uc/{C1}/agents", list(zip(("id_number", "name", "phone"), CHEN, strict=True))
            )
        )[0] == 200
        await grant(hall, rep, CHEN, [pension], [])
    filings = {
        "collect": ([{"id_number": YANG[0], "name": YANG[1], "hukou": "城镇", "phone": ""}], []),
        "enrol": ([FENG], []),
        "stop": (
            [
                {
                    "id_number": ZHAO_CL[0],
                    "name": ZHAO_CL[1],
                    "stop_month": "2026-12",
                    "stop_reason": "辞职",
                }
            ],
            [],
        ),
        "base_adjust": (
            [{"id_number": QIAN[0], "name": QIAN[1], "base": "6800"}],
            [("att-base_evidence", PNG)],
        ),
        "info_change": (
            [],
            [
                ("address", "哈尔滨市道里区新阳路1号"),
                ("contact_name", "张伟"),
                ("contact_phone", "13804510003"),
                ("att-licence", PDF),
            ],
        ),
    }
    async with (
        desk(hall, phones, ZHANG, "agent") as agent,
        desk(hall, phones, LIU, "agent") as no_relationship,
        desk(hall, phones, CHEN, "agent") as no_item,
    ):
        for item, (rows, extra) in filings.items():
            before = await counts(hall)
            for refused in (no_relationship, no_item):
                status, page, _ = await refused.file(item, pension, rows, extra=extra)
                assert status == 403 and code_of(page) == "item_forbidden", item
                status, _ = await refused.get(
                    f"/uc/{C1}/apply/{item}" if refused is no_item else "/banshi"
                )
                assert status == (403 if refused is no_item else 200)
            assert await counts(hall) == before, item
            status, page, path = await agent.file(item, pension, rows, extra=extra)
            assert status == 200 and "/business/" in path, (item, code_of(page))
            filed = await application(hall, app_id_of(path))
            assert filed.state == "submitted" and filed.serial_no and filed.item_code == item
        status, listing = await no_relationship.get(f"/uc/{C1}/business")
        assert status == 200 and "用人单位用工参保登记" not in listing  # sees nothing not granted
        status, centre = await no_item.get("/banshi")
        assert "人员基础信息采集" not in centre and "暂无已授权的业务事项" in centre
        async with desk(hall, phones, WANG, "legal_rep") as rep:
            await grant(hall, rep, ZHANG, [pension], ["stop"])
        status, page = await agent.get(f"/uc/{C1}/apply/enrol")
        assert status == 403 and code_of(page) == "item_forbidden"
    async with hall.portal[DB]() as db:
        serials = list(await db.scalars(select(Application.serial_no)))
    assert len(serials) == len(set(serials)) == len(filings)


async def test_attachments_are_checked_by_content(hall: Hall, phones: PhoneFactory) -> None:
    """缴费基数调整 without its material, or with a text file named .png, changes nothing."""
    pension = await relationship_id(hall, U1, PENSION)
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        row = [{"id_number": QIAN[0], "name": QIAN[1], "base": "6800"}]
        before = await counts(hall)
        status, page, _ = await rep.file("base_adjust", pension, row)
        assert status == 400 and code_of(page) == "attachment_required"
        status, page, _ = await rep.file(
            "base_adjust", pension, row, extra=[("att-base_evidence", b"GIF89a not a photo")]
        )
        assert status == 415 and code_of(page) == "upload_bad_type"
        status, page, _ = await rep.file(
            "base_adjust", pension, [{**row[0], "base": "5000"}], extra=[("att-base_evidence", PNG)]
        )
        assert status == 400 and code_of(page) == "base_not_higher"
        assert await counts(hall) == before


SEED_ROWS = [
    ({"id_number": YANG[0], "name": YANG[1]}, "person_not_collected"),
    ({"id_number": "230105198806206232", "name": "韩梅"}, "flexible_employment"),
    ({"id_number": "230106198307057347", "name": "朱建华"}, "pension_already_insured"),
    ({"id_number": "230107199109188451", "name": "秦少军"}, "duplicate_person"),
    ({"id_number": "230109199502019569", "name": "许晴"}, "hukou_missing"),
    (
        {"id_number": "230110198604281673", "name": "何磊", "start_month": "2026-08"},
        "benefits_paid",
    ),
    ({**FENG, "start_month": "2026-05"}, "backdate_limit"),
    ({**FENG, "name": "冯小东"}, "person_name_mismatch"),
]


async def test_every_seed_row_error_from_the_core_system(hall: Hall, phones: PhoneFactory) -> None:
    """Seed 003 常见报错 per person, and a batch with one bad row is refused whole, naming the
    row; nothing is created."""
    pension = await relationship_id(hall, U1, PENSION)
    async with desk(hall, phones, ZHANG, "agent") as agent:
        before = await counts(hall)
        for row, code in SEED_ROWS:
            full = {"start_month": "2026-10", "base": "4500", **row}
            status, page, _ = await agent.file("enrol", pension, [full])
            assert status == 400 and code_of(page) == code, (row, code_of(page))
        batch = [
            FENG,
            {
                "id_number": "230109199502019569",
                "name": "许晴",
                "start_month": "2026-10",
                "base": "4500",
            },
        ]
        status, page, _ = await agent.file("enrol", pension, batch)
        assert status == 400 and 'data-row="2" data-code="hukou_missing"' in page
        assert await counts(hall) == before
        status, page, path = await agent.file(
            "enrol", pension, [{**FENG, "start_month": "2026-06"}]
        )
        assert status == 200 and "/business/" in path  # six months back is still allowed
        status, page, _ = await agent.file("enrol", pension, [FENG])
        assert status == 409 and code_of(page) == "pending_application"


async def test_business_window_on_both_sides_of_both_edges(
    hall: Hall, phones: PhoneFactory, clock: BusinessClock
) -> None:
    """Before the 5th 09:00 a submission is saved to 待提交 with the seed's notice; from 09:00
    it can be submitted; the 25th 16:59:59 still submits, 17:00 does not (nothing changes)."""
    pension = await relationship_id(hall, U1, PENSION)
    unemployment = await relationship_id(hall, U1, UNEMPLOYMENT)
    async with desk(hall, phones, ZHANG, "agent") as agent:
        clock.now = beijing(2026, 12, 5, 8, 59, 59)
        status, page, path = await agent.file("enrol", pension, [FENG])
        draft = app_id_of(path)
        assert status == 200 and 'data-code="outside_business_window"' in page
        assert (await application(hall, draft)).state == "draft"
        assert (await application(hall, draft)).serial_no is None
        before = await counts(hall)
        status, page, _ = await agent.post(f"/uc/{C1}/business/{draft}/submit")
        assert status == 409 and code_of(page) == "outside_business_window"
        assert await counts(hall) == before
        clock.now = beijing(2026, 12, 5, 9, 0, 0)
        status, _, _ = await agent.post(f"/uc/{C1}/business/{draft}/submit")
        assert status == 200 and (await application(hall, draft)).state == "submitted"
        clock.now = beijing(2026, 12, 25, 16, 59, 59)
        status, _, path = await agent.file("enrol", unemployment, [FENG])
        assert (await application(hall, app_id_of(path))).state == "submitted"
        clock.now = beijing(2026, 12, 25, 17, 0, 0)
        status, page, path = await agent.file(
            "enrol", unemployment, [{**FENG, "id_number": "230104199805305157", "name": "陈志远"}]
        )
        assert 'data-code="outside_business_window"' in page
        assert (await application(hall, app_id_of(path))).state == "draft"


async def test_withdraw_before_and_after_pickup_return_and_refile(
    hall: Hall, phones: PhoneFactory
) -> None:
    """撤回 works until a reviewer picks it up, then names 孙丽; a returned application shows
    the red node with reason and reviewer and is re-filed as a new one, prefilled."""
    pension = await relationship_id(hall, U1, PENSION)
    unemployment = await relationship_id(hall, U1, UNEMPLOYMENT)
    async with (
        desk(hall, phones, ZHANG, "agent") as agent,
        desk(hall, phones, SUN, "staff") as staff,
    ):
        _, _, path = await agent.file("enrol", pension, [FENG])
        first = app_id_of(path)
        status, _, _ = await agent.post(f"/uc/{C1}/business/{first}/withdraw")
        assert status == 200 and (await application(hall, first)).state == "withdrawn"
        status, page, _ = await agent.post(f"/uc/{C1}/business/{first}/submit")
        assert status == 409 and code_of(page) == "application_final"
        _, _, path = await agent.file("enrol", unemployment, [FENG])
        second = app_id_of(path)
        status, _, _ = await staff.post(f"/review/{second}/pickup")
        assert status == 200
        before = await counts(hall)
        status, page, _ = await agent.post(f"/uc/{C1}/business/{second}/withdraw")
        assert status == 409 and code_of(page) == "withdraw_refused" and "孙丽" in page
        assert await counts(hall) == before
        status, page, _ = await staff.post(f"/review/{second}/return", [("reason", "")])
        assert status == 400 and (await application(hall, second)).state == "reviewing"
        await staff.post(f"/review/{second}/return", [("reason", "劳动合同开始月份有误")])
        status, page = await agent.get(f"/uc/{C1}/business/{second}")
        assert 'data-kind="returned"' in page and "劳动合同开始月份有误" in page and "孙丽" in page
        status, form = await agent.get(f"/uc/{C1}/apply/enrol?from={second}")
        assert f'name="refiled_from" value="{second}"' in form and FENG["id_number"] in form
        status, _, path = await agent.file(
            "enrol", unemployment, [FENG], extra=[("refiled_from", str(second))]
        )
        again = await application(hall, app_id_of(path))
        assert again.id != second and again.refiled_from_id == second and again.state == "submitted"
        assert (await application(hall, second)).state == "returned"


async def test_approval_changes_the_core_and_a_reviewer_never_reviews_their_own(
    hall: Hall, phones: PhoneFactory
) -> None:
    """Staff approve an enrolment: 已办结 and the person in the company's roster; 人员变更回退
    undoes it; 孙丽, also an agent of C1, cannot pick up what she filed herself."""
    pension = await relationship_id(hall, U1, PENSION)
    async with (
        desk(hall, phones, ZHANG, "agent") as agent,
        desk(hall, phones, SUN, "staff") as staff,
    ):
        _, _, path = await agent.file("enrol", pension, [FENG])
        app_id = app_id_of(path)
        _, queue = await staff.get("/review")
        serial = (await application(hall, app_id)).serial_no
        assert f'data-serial="{serial}"' in queue
        assert await insured(hall, FENG["id_number"], U1, PENSION) is None
        await staff.post(f"/review/{app_id}/pickup")
        status, _, _ = await staff.post(f"/review/{app_id}/approve")
        assert status == 200 and (await application(hall, app_id)).state == "done"
        assert await insured(hall, FENG["id_number"], U1, PENSION) == "active"
        _, page = await agent.get(f"/uc/{C1}/business/{app_id}")
        assert 'data-state="done"' in page and page.count('data-kind="done"') == 4
        _, roster = await agent.get(f"/uc/{C1}/roster")
        assert f'data-id-number="{FENG["id_number"]}"' in roster
        _, csv_text = await agent.get(f"/uc/{C1}/business.csv?state=done")
        assert serial in csv_text and "已办结" in csv_text
        _, found = await agent.get(f"/uc/{C1}/progress?id_number={FENG['id_number']}")
        assert serial in found
        _, found = await agent.get(f"/uc/{C1}/progress?month=2026-11")
        assert serial not in found
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        _, _, path = await rep.file(
            "rollback", pension, extra=[("target_serial", serial), ("rollback_reason", "增员有误")]
        )
        rollback = app_id_of(path)
        token_data = [("id_number", SUN[0]), ("name", SUN[1]), ("phone", SUN[2])]
        assert (await rep.post(f"/uc/{C1}/agents", token_data))[0] == 200
        await grant(hall, rep, SUN, [pension], ["enrol"])
    async with desk(hall, phones, SUN, "staff") as staff:
        await staff.post(f"/review/{rollback}/pickup")
        await staff.post(f"/review/{rollback}/approve")
        assert await insured(hall, FENG["id_number"], U1, PENSION) is None
        async with desk(hall, phones, SUN, "agent") as herself:
            _, _, path = await herself.file("enrol", pension, [FENG])
        own = app_id_of(path)
        other_agency = await relationship_id(hall, "23010020002", PENSION)
        async with desk(hall, phones, WANG, "legal_rep") as rep:
            row = {"id_number": "230102199504021561", "name": "陈静", "hukou": "城镇", "phone": ""}
            _, _, path = await rep.file("collect", other_agency, [row])
        status, page = await staff.get(f"/review/{app_id_of(path)}")
        assert status == 403 and code_of(page) == "other_agency"
        before = await counts(hall)
        status, page, _ = await staff.post(f"/review/{own}/pickup")
        assert status == 403 and code_of(page) == "own_application"
        assert await counts(hall) == before and (await application(hall, own)).state == "submitted"


def _id_number(n: int) -> str:
    first17 = f"23010219800101{n:03d}"
    return first17 + check_digit(first17)


async def test_hundred_concurrent_submissions_get_distinct_serial_numbers(
    hall: Hall, phones: PhoneFactory
) -> None:
    """100 人员基础信息采集 submitted at once: 100 applications, 100 different serial numbers."""
    pension = await relationship_id(hall, U1, PENSION)
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        rows = [
            {"id_number": _id_number(n), "name": "测试员", "hukou": "城镇", "phone": ""}
            for n in range(100)
        ]
        results = await asyncio.gather(*(rep.file("collect", pension, [row]) for row in rows))
    assert [status for status, _, _ in results] == [200] * 100
    async with hall.portal[DB]() as db:
        serials = list(await db.scalars(select(Application.serial_no)))
    assert len(serials) == 100 and len(set(serials)) == 100 and all(serials)
