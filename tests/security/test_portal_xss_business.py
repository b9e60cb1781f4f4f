"""Issue 12, XSS in business handling, against the real authsvc and phones: a payload typed as a
person's name on an application, and as a reviewer's return reason, is refused with the
field's error (and nothing is stored) or shown escaped on every page that renders it — the
applicant's 我的办件 list and detail, the review queue and the review detail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from markupsafe import escape

from tests.conftest import PhoneFactory
from tests.portal.business_support import (
    PENSION,
    SUN,
    U1,
    WANG,
    BusinessClock,
    app_id_of,
    application,
    code_of,
    counts,
    desk,
    relationship_id,
)
from tests.portal.test_business_hall import _id_number
from tests.security.test_portal_xss import PAYLOADS
from tests.support.hall import C1, Hall, running_hall

MARKUP = set("<>\"'&")


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[Hall]:
    async with running_hall(tmp_path, business_clock=BusinessClock()) as running:
        yield running


def _shown_escaped(page: str, payload: str) -> None:
    if MARKUP & set(payload):
        assert payload not in page, payload
        assert str(escape(payload)) in page, payload
    else:
        assert payload in page, payload
    assert 'href="javascript:' not in page.lower()


async def test_a_row_name_and_a_return_reason_are_refused_or_escaped(
    hall: Hall, phones: PhoneFactory
) -> None:
    """Each payload as a name on 人员基础信息采集 and as 退回 reason: refused with a coded field
    error and no row written, or escaped on the four pages that show it."""
    pension = await relationship_id(hall, U1, PENSION)
    shown = refused = 0
    async with (
        desk(hall, phones, WANG, "legal_rep") as rep,
        desk(hall, phones, SUN, "staff") as staff,
    ):
        for n, payload in enumerate(PAYLOADS):
            row = {"id_number": _id_number(500 + n), "name": payload, "hukou": "城镇", "phone": ""}
            before = await counts(hall)
            status, page, path = await rep.file("collect", pension, [row])
            if "/business/" not in path:
                assert status == 400 and code_of(page), (payload, status)
                assert await counts(hall) == before, payload
                assert "<img src=x" not in page and "<script>alert" not in page
                refused += 1
                continue
            app_id = app_id_of(path)
            assert (await staff.post(f"/review/{app_id}/pickup"))[0] == 200
            reason = f"{payload} 请核对"
            status, page, _ = await staff.post(f"/review/{app_id}/return", [("reason", reason)])
            if status != 200:
                assert status == 400 and code_of(page), (payload, status)
                assert (await application(hall, app_id)).state == "reviewing"
                refused += 1
                reason = ""
            for who, path in (
                (rep, f"/uc/{C1}/business/{app_id}"),
                (rep, f"/uc/{C1}/business"),
                (staff, f"/review/{app_id}"),
            ):
                status, page = await who.get(path)
                assert status == 200, path
                _shown_escaped(page, payload)
                if reason and path != f"/uc/{C1}/business":
                    _shown_escaped(page, reason)
            shown += 1
    assert shown + refused >= len(PAYLOADS) and shown >= 3, (shown, refused)
    print(f"business XSS: {shown} payloads shown escaped, {refused} refusals")
