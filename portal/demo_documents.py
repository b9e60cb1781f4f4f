"""Demo documents (`portal demo-documents --out var/demo`): a printed 单位参保证明 and a 受理单 that
a newcomer verifies with the phone page (扫一扫 → the page image) or `mobile-sim verify`.

Both are made through the same services as the pages: the certificate for the pension
relationship of 哈尔滨龙江机械制造有限公司 over the last six months; the receipt for an
enrolment 张伟 filed and 孙丽 (哈尔滨市社会保险事业服务中心) accepted — filed as at the
counter (窗口受理), where the online business window does not apply. Idempotent: the
accepted demo application is made once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.clock import utcnow
from portal.config import Settings
from portal.db.models import Application, Company
from portal.documents import pdf
from portal.documents.keyring import CertKeyring
from portal.rules import items
from portal.rules.access import Access
from portal.rules.applications import Op
from portal.rules.fields import PersonRow
from portal.rules.roles import Role
from portal.services import applications, documents, review
from portal.services.actor import Actor
from portal.services.applications import Filing, Origin, Storage
from portal.services.business_demo import ALWAYS

C1 = "91230100MA1BX2K306"
AGENT = Actor(Role.AGENT, "230104199001051235", "张伟", C1, "哈尔滨龙江机械制造有限公司")
STAFF = Actor(Role.STAFF, "230103198506141673", "孙丽")
FENG = PersonRow("230104199602185124", "冯晓东", {})


async def make(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, out: Path
) -> list[Path]:
    """Write certificate.pdf / receipt.pdf (and page-1 PNGs when poppler is installed)."""
    now = utcnow()
    signer = documents.Signer(
        CertKeyring.open(settings.cert_keys_dir, now=now), settings.public_url, now
    )
    async with sessionmaker() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == C1))
        if company is None:
            raise SystemExit("load the demo data first: portal demo-data")
        pension = next(
            r for r in company.relationships if r.insurance_type == "企业职工基本养老保险"
        )
        this_month = (now + dt.timedelta(hours=8)).date().replace(day=1)
        start = (this_month - dt.timedelta(days=150)).replace(day=1)
        span = documents.period(f"{start:%Y-%m}", f"{this_month:%Y-%m}", now=now)
        certificate = await documents.unit_certificate(db, AGENT, company, pension, span, signer)
        app = await _accepted(db, company, pension.id, now, settings)
        receipt = documents.receipt(db, AGENT, company, app, signer)
        await db.commit()
    written: list[Path] = []
    for name, document in (("certificate", certificate), ("receipt", receipt)):
        data = await asyncio.to_thread(pdf.render, document, font_path=settings.cjk_font)
        written += await asyncio.to_thread(_write, out, name, data)
    return written


def _write(out: Path, name: str, data: bytes) -> list[Path]:
    """The PDF, and its first page as a PNG (what a phone photographs) when poppler is there."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.pdf"
    target.write_bytes(data)
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        return [target]
    page = ["-r", "150", "-f", "1", "-l", "1", "-singlefile", "-png"]
    subprocess.run([pdftoppm, *page, str(target), str(out / name)], check=True)  # noqa: S603
    return [target, out / f"{name}.png"]


async def _accepted(
    db: AsyncSession, company: Company, relationship_id: int, now: dt.datetime, settings: Settings
) -> Application:
    """The demo enrolment, filed by 张伟 and accepted by 孙丽 (once)."""
    found = await db.scalar(
        select(Application).where(
            Application.company_id == company.id,
            Application.filer_id_number == AGENT.id_number,
            Application.accepted_at.is_not(None),
        )
    )
    if found is not None:
        return found
    this_month = (now + dt.timedelta(hours=8)).date()
    row = PersonRow(FENG.id_number, FENG.name, {"start_month": f"{this_month:%Y-%m}", "base": 5000})
    filing = Filing(items.get("enrol"), relationship_id, persons=(row,))
    access = Access(items=frozenset({"enrol"}), relationship_ids=frozenset({relationship_id}))
    app, _ = await applications.file(
        db,
        Origin(AGENT, "demo"),
        company,
        access,
        filing,
        now=now,
        window=ALWAYS,  # 窗口受理: the counter takes it any day
        storage=Storage(settings.upload_dir, settings.max_upload_bytes),
        submit=True,
    )
    return await review.act(db, Origin(STAFF, "demo"), app.id, Op.ACCEPT, now=now)
