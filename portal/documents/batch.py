"""Batch enrolment / stop files (批量增员 / 批量减员): the template, and reading a filled one.

Seed 003 三、1(1)/2(1): 下载相应的模版，填写需要导入的人员用工信息后上传，处理详情列表中点击"结果"
查询处理结果，可以显示错误信息. Seed 001 item 50: 一定要按照要求填写数据,不要带格式,带公式,一定不要
添加不需要填写的数据,带星号的栏为必填栏.

The whole file is read and checked here before anything is filed: a file that is not an XLSX
(or CSV), holds formulas, has columns the template does not, cells of the wrong type, or more
rows than the limit is refused as a whole with the cells named. Rows that pass these checks go
on to the row checks (portal.documents.rows and the core system). No I/O: bytes in.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from portal.documents import errors
from portal.errors import PortalError
from portal.rules import fields, idcard
from portal.rules.fields import PersonRow
from portal.rules.items import BusinessItem
from portal.rules.people import clean_name

MAX_ROWS = fields.MAX_PERSONS  # one application holds at most this many persons
MAX_UNZIPPED = 20 * 1024 * 1024  # an XLSX is a zip: refuse a bomb before openpyxl opens it
MAX_CELL = 200
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Kind(StrEnum):
    TEXT = "text"
    ID_NUMBER = "id_number"
    MONTH = "month"
    AMOUNT = "amount"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    en: str
    kind: Kind
    required: bool = True
    choices: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        """带星号的栏为必填栏 (seed 001 item 50)."""
        return f"{self.zh}*" if self.required else self.zh


@dataclass(frozen=True, slots=True)
class Spec:
    """One batch file type: the business item it files and its columns."""

    item_code: str
    title_zh: str
    title_en: str
    sheet: str
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = ()

    @property
    def example(self) -> tuple[str, ...]:
        return tuple(
            _EXAMPLES.get(c.key) or _EXAMPLES[c.kind] or c.choices[0] for c in self.columns
        )


_KINDS = {"month": Kind.MONTH, "base": Kind.AMOUNT, "choice": Kind.CHOICE}
_EXAMPLES: dict[str, str] = {
    "name": "张三",
    "id_number": "11010519491231002X",
    "phone": "13800138000",
    Kind.TEXT: "…",
    Kind.MONTH: "2026-11",
    Kind.AMOUNT: "6500",
    Kind.CHOICE: "",
}
NOTES = {
    "enrol": ("网报系统自动从劳动合同开始月份补缴，最多可从实际操作月往前补六个月。",),
    "stop": ("该人员须在本单位该险种处于参保缴费状态。",),
}


def spec_for(item: BusinessItem) -> Spec:
    """The template of a batch item: 姓名, 公民身份号码, then the item's own person fields
    (portal.rules.fields, the same fields as the item's form)."""
    columns = [
        Column("name", "姓名", "Name", Kind.TEXT),
        Column("id_number", "公民身份号码", "ID number", Kind.ID_NUMBER),
    ]
    for name in item.person_fields:
        field_ = fields.FIELDS[name]
        kind = _KINDS.get(field_.kind, Kind.TEXT)
        columns.append(Column(name, field_.zh, field_.en, kind, field_.required, field_.choices))
    return Spec(
        item_code=item.code,
        title_zh=f"{item.zh}（批量）",
        title_en=f"{item.en} (batch)",
        sheet=item.zh[:31],
        columns=tuple(columns),
        notes=NOTES.get(item.code, ()),
    )


@dataclass(frozen=True, slots=True)
class Row:
    """One filled row: its number in the sheet (header = 1) and the typed values."""

    number: int
    values: dict[str, Any] = field(default_factory=dict)


# --- the template -------------------------------------------------------------------------
def template_xlsx(spec: Spec) -> bytes:
    """The XLSX template: a header row (required columns starred), text-formatted ID and date
    columns, a drop-down for choices, and a 填写说明 sheet with an example."""
    book = Workbook()
    sheet = book.active
    sheet.title = spec.sheet
    sheet.append([c.header for c in spec.columns])
    for index, column in enumerate(spec.columns, 1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C62828" if column.required else "1F2933")
        cell.fill = PatternFill("solid", fgColor="E8F1FC")
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 22 if column.kind is Kind.ID_NUMBER else 16
        if column.kind in (Kind.ID_NUMBER, Kind.TEXT, Kind.MONTH):
            sheet.column_dimensions[letter].number_format = "@"  # text: keeps all 18 digits
        if column.choices:
            rule = DataValidation(type="list", formula1='"' + ",".join(column.choices) + '"')
            rule.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            sheet.add_data_validation(rule)
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("填写说明")
    for line in _instructions(spec):
        notes.append([line])
    notes.column_dimensions["A"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_csv(spec: Spec) -> bytes:
    """The CSV template (UTF-8 with BOM so that Excel shows the Chinese headers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in spec.columns])
    return ("\ufeff" + out.getvalue()).encode()


def _instructions(spec: Spec) -> Iterator[str]:
    yield f"{spec.title_zh} 模板填写说明"
    yield "1. 带星号(*)的栏为必填栏；请按照要求填写数据，不要带格式、带公式。"
    yield "2. 不要添加不需要填写的列，不要修改表头。"
    yield f"3. 每个文件最多 {MAX_ROWS} 行人员数据，从第2行开始填写。"
    for i, note in enumerate(spec.notes, 4):
        yield f"{i}. {note}"
    yield "示例：" + "，".join(
        f"{c.zh}={v}" for c, v in zip(spec.columns, spec.example, strict=True)
    )
    for column in spec.columns:
        if column.choices:
            yield f"「{column.zh}」可选：{'、'.join(column.choices)}"


# --- reading a filled file ----------------------------------------------------------------
def read(data: bytes, filename: str, spec: Spec) -> list[Row]:
    """Every data row of an XLSX or CSV upload, typed; the whole file or nothing.

    The name's extension says which it claims to be and the content must agree: an `.xlsx` is
    a zip archive openpyxl can open, a `.csv` is UTF-8 or GB 18030 text."""
    suffix = filename.lower().rpartition(".")[2] if "." in filename else ""
    if suffix == "xlsx" and data[:4] == b"PK\x03\x04":
        grid = _xlsx_grid(data)
    elif suffix == "csv" and data[:4] != b"PK\x03\x04":
        grid = _csv_grid(data)
    else:
        raise errors.BatchNotSpreadsheet(f"name {filename[-40:]!r}, starts {data[:4].hex()}")
    header, body = _split(grid)
    positions = _check_header(header, spec)
    body = [line for line in body if any(_blank(v) is False for v in line)]
    if not body:
        raise errors.BatchEmpty()
    if len(body) > MAX_ROWS:
        raise errors.BatchTooManyRows(f"{len(body)} rows").where([f"{len(body)} > {MAX_ROWS}"])
    return _typed_rows(body, spec, positions)


def _xlsx_grid(data: bytes) -> list[tuple[int, list[Any]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED:
                raise errors.BatchNotSpreadsheet("unzipped size over the limit")
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except errors.BatchFileError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a broken archive
        raise errors.BatchNotSpreadsheet(f"{type(exc).__name__}") from exc
    try:
        sheet = book.worksheets[0]
        grid: list[tuple[int, list[Any]]] = []
        formulas: list[str] = []
        filled = 0
        for number, cells in enumerate(sheet.iter_rows(), 1):  # read-only: every row, in order
            values = []
            for column, cell in enumerate(cells, 1):
                if cell.data_type == "f":
                    formulas.append(f"{get_column_letter(column)}{number}")
                values.append(cell.value)
            grid.append((number, values))
            filled += any(not _blank(v) for v in values)
            if filled > MAX_ROWS + 1 and not formulas:
                break  # enough to know it is too long
    finally:
        book.close()
    if formulas:
        raise errors.BatchFormula(",".join(formulas[:5])).where(formulas)
    return grid


def _csv_grid(data: bytes) -> list[tuple[int, list[Any]]]:
    text = _decode(data)
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise errors.BatchNotSpreadsheet(f"csv: {exc}") from exc
    grid = [(number, list(line)) for number, line in enumerate(lines, 1)]
    formulas = [
        f"{get_column_letter(c)}{n}"
        for n, line in grid
        for c, value in enumerate(line, 1)
        if n > 1 and _formula_like(value)
    ]
    if formulas:
        raise errors.BatchFormula(",".join(formulas[:5])).where(formulas)
    return grid


def _formula_like(value: str) -> bool:
    """What a spreadsheet would evaluate: `=…`, `@…`, or `+`/`-` before a non-digit."""
    text = value.strip()
    if text[:1] in ("=", "@"):
        return True
    return text[:1] in ("+", "-") and len(text) > 1 and not text[1].isdigit()


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), or GB 18030 as Excel saves CSV on Chinese Windows."""
    if b"\x00" in data[:4096]:
        raise errors.BatchNotSpreadsheet("binary data")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise errors.BatchNotSpreadsheet("not UTF-8 or GB 18030 text")


def _split(grid: list[tuple[int, list[Any]]]) -> tuple[list[Any], list[tuple[int, list[Any]]]]:
    rows = [(n, line) for n, line in grid if any(_blank(v) is False for v in line)]
    if not rows:
        raise errors.BatchEmpty()
    return rows[0][1], rows[1:]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_header(header: Sequence[Any], spec: Spec) -> dict[str, int]:
    """Positions of the template's columns; extra or missing columns refuse the file."""
    names = [str(v).strip().rstrip("*＊").strip() if not _blank(v) else "" for v in header]
    while names and not names[-1]:
        names.pop()
    known = {c.zh: c for c in spec.columns}
    if not known.keys() & set(names):
        raise errors.BatchNotSpreadsheet("no column of the template in the first row")
    extra = [
        f"{get_column_letter(i)}1 {n or '(空)'}" for i, n in enumerate(names, 1) if n not in known
    ]
    if extra:
        raise errors.BatchExtraColumns(";".join(extra)).where(extra)
    missing = [c.header for c in spec.columns if c.zh not in names and c.required]
    if missing:
        raise errors.BatchMissingColumns(";".join(missing)).where(missing)
    return {known[n].key: i for i, n in enumerate(names)}


def _typed_rows(
    body: list[tuple[int, list[Any]]], spec: Spec, positions: dict[str, int]
) -> list[Row]:
    rows, wrong = [], []
    for number, line in body:
        if any(not _blank(v) for i, v in enumerate(line) if i not in positions.values()):
            wrong.append(f"{number}行: 模板以外的列有数据")
        values: dict[str, Any] = {}
        for column in spec.columns:
            index = positions.get(column.key)
            raw = line[index] if index is not None and index < len(line) else None
            try:
                values[column.key] = convert(raw, column)
            except ValueError as exc:
                letter = get_column_letter(index + 1) if index is not None else "?"
                wrong.append(f"{letter}{number} {column.zh}: {exc}")
        rows.append(Row(number, values))
    if wrong:
        raise errors.BatchWrongType(";".join(wrong[:5])).where(wrong)
    return rows


def convert(raw: Any, column: Column) -> Any:
    """The cell's value for `column`, None when blank; ValueError says what type was wanted."""
    if _blank(raw):
        return None
    if isinstance(raw, bool):
        raise ValueError("不能是逻辑值")
    if column.kind is Kind.MONTH:
        return _month(raw)
    if column.kind is Kind.AMOUNT:
        return _amount(raw)
    if column.kind is Kind.ID_NUMBER and not isinstance(raw, str):
        raise ValueError("须为文本格式（数字格式会丢失后几位）")
    if isinstance(raw, dt.datetime | dt.date | dt.time):
        raise ValueError("须为文本，不能是日期")
    text = " ".join(str(raw).split())
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    if len(text) > MAX_CELL or not text.isprintable():
        raise ValueError(f"须为不超过{MAX_CELL}字的文本")
    if column.choices and text not in column.choices:
        raise ValueError(f"须为以下之一：{'、'.join(column.choices)}")
    return text


def _month(raw: Any) -> str:
    """A month as `YYYY-MM`: a date cell, or text 2026-11, 2026/11, 2026.11, 202611, 2026-11-01."""
    if isinstance(raw, dt.datetime | dt.date):
        return f"{raw.year:04d}-{raw.month:02d}"
    if isinstance(raw, str):
        digits = raw.strip().replace("/", "-").replace(".", "-").replace("年", "-").rstrip("月")
        parts = digits.split("-")
        if len(parts) == 1 and len(parts[0]) == 6 and parts[0].isdigit():
            parts = [parts[0][:4], parts[0][4:]]
        shaped = 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4
        if shaped and 1 <= int(parts[1]) <= 12:
            return f"{parts[0]}-{int(parts[1]):02d}"
    raise ValueError("须为年月（YYYY-MM）")


def _amount(raw: Any) -> int:
    """A whole or two-decimal amount of yuan, as whole yuan (rounded half up), 1-999999."""
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip().replace(",", ""))
        except ValueError:
            raise ValueError("须为数字") from None
    else:
        raise ValueError("须为数字")
    if not 1 <= value <= 999_999:
        raise ValueError("须在 1 至 999999 元之间")
    return int(value + 0.5)


# --- rows ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    """One data row's result (结果): the person it files, or the error that keeps it out."""

    number: int
    name: str
    id_number: str
    person: PersonRow | None = None
    error: PortalError | None = None


def prepare(rows: list[Row], spec: Spec, *, today: dt.date) -> list[Outcome]:
    """Each row checked on its own (ID number, name, the item's fields as the single form
    checks them) and against the rows above it (the same person twice). Core-system checks
    come after, on the rows that pass here."""
    seen: set[str] = set()
    outcomes = []
    for row in rows:
        name = str(row.values.get("name") or "")
        number = idcard.normalize(str(row.values.get("id_number") or ""))
        try:
            person = _person(row, spec, today)
            if person.id_number in seen:
                raise errors.BatchDuplicateRow(idcard.mask(person.id_number))
            seen.add(person.id_number)
            outcomes.append(Outcome(row.number, person.name, person.id_number, person=person))
        except PortalError as error:
            outcomes.append(Outcome(row.number, name, number, error=error))
    return outcomes


def _person(row: Row, spec: Spec, today: dt.date) -> PersonRow:
    data: dict[str, str | int] = {}
    for column in spec.columns[2:]:
        value = row.values.get(column.key)
        data[column.key] = fields.clean(
            fields.FIELDS[column.key], "" if value is None else str(value)
        )
    return PersonRow(
        id_number=idcard.validate(str(row.values.get("id_number") or ""), today=today),
        name=clean_name(str(row.values.get("name") or "")),
        data=data,
    )
