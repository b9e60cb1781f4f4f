"""PDFs the hall prints: the receipt (受理单) and the certificate of insured employees
(单位参保证明 / 单位权益单), laid out like the official forms.

Seed 002 (江苏省社会保险权益记录单): title, 参保单位全称, 统一社会信用代码, 参保险种, 缴费起止年月,
缴费总人数, then 序号 / 姓名 / 公民身份号码(社会保障号); the four 说明 lines verbatim; the QR at
the top right. Seed 001 items 42 and 63: the file is an ordinary PDF whose electronic seal is
drawn in the page itself, so any PDF reader shows it. No I/O: bytes in memory out.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zxingcpp
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from portal.documents.fonts import cjk_font

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
QR_SIZE = 38 * mm
SEAL_RED = colors.HexColor("#d2232a")
GRID = colors.HexColor("#444444")

CERT_NOTES = (
    "本权益单涉及单位及参保职工个人信息,单位应妥善保管。",
    "本权益单为打印时参保情况。",
    "本权益单已签具电子印章,不再加盖鲜章。",
    "本权益单记录单出具后有效期内(6个月),如需核对真伪,请使用电子社保卡APP,"
    "扫描右上方二维码进行验证(可多次验证)。",
)
RECEIPT_NOTES = (
    "本受理单只表示该业务已被受理，审核结果以经办机构审核为准。",
    "如需核对真伪，请使用电子社保卡APP扫描右上方二维码进行验证(可多次验证，有效期6个月)。",
)


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    id_number: str
    note: str = ""  # 参保起始年月 / 状态 on a certificate, the row's business on a receipt


@dataclass(frozen=True, slots=True)
class Document:
    """One printable document: a header table of (label, value), a person list, the QR."""

    title: str
    subtitle: str
    number_label: str  # 证明编号 / 受理流水号
    number: str
    fields: tuple[tuple[str, str], ...]
    person_columns: tuple[str, str, str]  # e.g. 姓名, 公民身份号码(社会保障号), 参保起始年月
    persons: tuple[Person, ...]
    notes: tuple[str, ...]
    seal_text: str  # the agency that seals it
    issued_at: dt.datetime  # naive UTC; printed in Beijing time
    valid_until: dt.datetime
    qr_text: str


def beijing(moment: dt.datetime) -> str:
    return f"{moment + dt.timedelta(hours=8):%Y-%m-%d %H:%M}"


def render(doc: Document, *, font_path: Path | None = None) -> bytes:
    """The PDF: first page carries the QR top right and the seal; every page its number."""
    font = cjk_font(font_path)
    out = io.BytesIO()
    template = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 6 * mm,
        title=f"{doc.title} {doc.number}",
        author=doc.seal_text,
        subject=doc.subtitle,
        creator="qrauth 网上服务大厅",
    )
    template.build(
        _story(doc, font),
        onFirstPage=lambda c, d: _first_page(c, d, doc, font),
        onLaterPages=lambda c, d: _footer(c, d, doc, font),
    )
    return out.getvalue()


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("t", fontName=font, fontSize=20, leading=26, alignment=1),
        "sub": ParagraphStyle("s", fontName=font, fontSize=11, leading=16, alignment=1),
        "cell": ParagraphStyle("c", fontName=font, fontSize=10, leading=14, wordWrap="CJK"),
        "note": ParagraphStyle("n", fontName=font, fontSize=9, leading=14, wordWrap="CJK"),
    }


def _story(doc: Document, font: str) -> list[Any]:
    s = _styles(font)
    header_width = PAGE_W - 2 * MARGIN - QR_SIZE - 4 * mm
    heading = Table(
        [
            [Paragraph(doc.title, s["title"])],
            [Paragraph(doc.subtitle, s["sub"])],
            [Paragraph(f"{doc.number_label}：{doc.number}", s["sub"])],
        ],
        colWidths=[header_width],
        hAlign="LEFT",
    )
    story: list[Any] = [heading, Spacer(1, QR_SIZE - 22 * mm)]
    story.append(_fields_table(doc, s))
    story.append(Spacer(1, 5 * mm))
    story.append(_persons_table(doc, s))
    story.append(Spacer(1, 6 * mm))
    story.append(Paragraph("说明:", s["note"]))
    story += [Paragraph(f"{i}. {line}", s["note"]) for i, line in enumerate(doc.notes, 1)]
    story.append(Spacer(1, 4 * mm))
    story.append(
        Paragraph(
            f"出具时间：{beijing(doc.issued_at)}　　有效期至：{beijing(doc.valid_until)}"
            f"　　出具机构：{doc.seal_text}",
            s["note"],
        )
    )
    story.append(Seal(doc.seal_text, font))
    return story


def _grid(font: str) -> list[tuple[Any, ...]]:
    return [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 10),
        ("GRID", (0, 0), (-1, -1), 0.6, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]


def _fields_table(doc: Document, s: dict[str, ParagraphStyle]) -> Table:
    width = PAGE_W - 2 * MARGIN
    rows = [[label, Paragraph(value or "—", s["cell"])] for label, value in doc.fields]
    table = Table(rows, colWidths=[38 * mm, width - 38 * mm])
    style = [
        *_grid(s["cell"].fontName),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f3f6")),
    ]
    table.setStyle(TableStyle(style))
    return table


def _persons_table(doc: Document, s: dict[str, ParagraphStyle]) -> Table:
    width = PAGE_W - 2 * MARGIN
    head = ["序号", *doc.person_columns]
    rows: list[list[Any]] = [head]
    rows += [
        [str(i), p.name, p.id_number, Paragraph(p.note, s["cell"])]
        for i, p in enumerate(doc.persons, 1)
    ]
    if not doc.persons:
        rows.append(["", "无", "", ""])
    table = Table(
        rows,
        colWidths=[14 * mm, 36 * mm, 62 * mm, width - 112 * mm],
        repeatRows=1,
    )
    style = [
        *_grid(s["cell"].fontName),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("ALIGN", (0, 0), (0, -1), "CENTER"),
    ]
    table.setStyle(TableStyle(style))
    return table


def _first_page(canvas: Canvas, template: Any, doc: Document, font: str) -> None:
    top = PAGE_H - MARGIN
    draw_qr(canvas, doc.qr_text, x=PAGE_W - MARGIN - QR_SIZE, y=top - QR_SIZE, size=QR_SIZE)
    canvas.setFont(font, 8)
    canvas.drawCentredString(PAGE_W - MARGIN - QR_SIZE / 2, top - QR_SIZE - 10, "扫码验证真伪")
    _footer(canvas, template, doc, font)


def _footer(canvas: Canvas, template: Any, doc: Document, font: str) -> None:
    canvas.setFont(font, 8)
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.drawString(MARGIN, MARGIN - 2 * mm, f"{doc.number_label}：{doc.number}")
    canvas.drawRightString(PAGE_W - MARGIN, MARGIN - 2 * mm, f"第 {template.page} 页")
    canvas.setFillColor(colors.black)


def qr_modules(text: str) -> list[list[bool]]:
    """QR modules (True = dark) drawn by zxing-cpp at error correction M, no quiet zone."""
    image = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(
        scale=1, add_quiet_zones=False
    )
    size = image.shape[0]
    raw = memoryview(image).tobytes()  # type: ignore[arg-type]  # a buffer; the stub omits it
    return [[raw[y * size + x] == 0 for x in range(size)] for y in range(size)]


def draw_qr(canvas: Canvas, text: str, *, x: float, y: float, size: float) -> None:
    """The QR as vector rectangles (crisp on paper), one per horizontal run of dark modules."""
    modules = qr_modules(text)
    n = len(modules)
    cell = size / (n + 8)  # four modules of quiet zone on each side
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    for row, line in enumerate(modules):
        col = 0
        while col < n:
            if not line[col]:
                col += 1
                continue
            start = col
            while col < n and line[col]:
                col += 1
            top = y + size - (row + 4 + 1) * cell
            canvas.rect(x + (start + 4) * cell, top, (col - start) * cell, cell, stroke=0, fill=1)


def draw_seal(canvas: Canvas, agency: str, font: str, *, x: float, y: float) -> None:
    """The electronic seal (电子印章): a red ring, the agency's name round the top, a star."""
    radius = 21 * mm
    canvas.saveState()
    canvas.setStrokeColor(SEAL_RED)
    canvas.setFillColor(SEAL_RED)
    canvas.setLineWidth(2.2)
    canvas.circle(x, y, radius, stroke=1, fill=0)
    _star(canvas, x, y, 6 * mm)
    text = agency[:18]
    canvas.setFont(font, 10)
    span = 220.0  # degrees of arc the name covers
    step = span / max(len(text) - 1, 1)
    for i, char in enumerate(text):
        angle = 90 + span / 2 - i * step
        canvas.saveState()
        canvas.translate(x, y)
        canvas.rotate(angle - 90)
        canvas.drawCentredString(0, radius - 5 * mm, char)
        canvas.restoreState()
    canvas.setFont(font, 8)
    canvas.drawCentredString(x, y - 11 * mm, "电子印章")
    canvas.restoreState()


class Seal(Flowable):  # type: ignore[misc]
    """The seal after the issuing line, at the right, where an official stamps a form."""

    def __init__(self, agency: str, font: str) -> None:
        super().__init__()
        self.agency, self.font = agency, font
        self.hAlign = "RIGHT"

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 48 * mm, 46 * mm

    def draw(self) -> None:
        draw_seal(self.canv, self.agency, self.font, x=24 * mm, y=23 * mm)


def _star(canvas: Canvas, x: float, y: float, r: float) -> None:
    path = canvas.beginPath()
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.4
        angle = math.pi / 2 + i * math.pi / 5
        px, py = x + radius * math.cos(angle), y + radius * math.sin(angle)
        if i == 0:
            path.moveTo(px, py)
        else:
            path.lineTo(px, py)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)


def persons(rows: Sequence[tuple[str, str, str]]) -> tuple[Person, ...]:
    return tuple(Person(*row) for row in rows)
