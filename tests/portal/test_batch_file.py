"""Batch files (批量增员 / 批量减员) read as a whole: the template round-trips, and every
malformed file is refused with its own code, naming the cells (seed 001 item 50)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from portal.documents import batch, errors
from portal.rules import items

ENROL = batch.spec_for(items.get("enrol"))
STOP = batch.spec_for(items.get("stop"))
GOOD = ["王小明", "230102199001011230", "2026-11", "6500"]


def filled(rows: list[list[Any]], spec: batch.Spec = ENROL) -> bytes:
    """The downloaded template with rows typed in from row 2, as a person would."""
    book = load_workbook(io.BytesIO(batch.template_xlsx(spec)))
    sheet = book[spec.sheet]
    for r, row in enumerate(rows, 2):
        for c, value in enumerate(row, 1):
            sheet.cell(row=r, column=c, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def refused(data: bytes, name: str = "名单.xlsx", spec: batch.Spec = ENROL) -> Any:
    with pytest.raises(errors.BatchFileError) as caught:
        batch.read(data, name, spec)
    return caught.value


def test_the_template_has_starred_headers_and_instructions() -> None:
    """带星号的栏为必填栏; a 填写说明 sheet; the ID column formatted as text."""
    book = load_workbook(io.BytesIO(batch.template_xlsx(ENROL)))
    assert book.sheetnames == ["用人单位用工参保登记", "填写说明"]
    header = [c.value for c in book["用人单位用工参保登记"][1]]
    assert header == ["姓名*", "公民身份号码*", "参保开始月份*", "缴费基数（元）*"]
    assert book["用人单位用工参保登记"].max_row == 1  # nothing to delete before filling it in
    assert "不要带格式、带公式" in book["填写说明"]["A2"].value
    assert batch.template_csv(STOP).decode("utf-8-sig").startswith("姓名*,公民身份号码*")


def test_a_filled_template_reads_back_typed() -> None:
    """Text, months typed as dates or text, amounts as numbers or text."""
    rows = batch.read(
        filled([GOOD, ["李红", "230102199202021232", dt.datetime(2026, 10, 15), 7200.4]]),
        "名单.xlsx",
        ENROL,
    )
    assert [r.number for r in rows] == [2, 3]
    assert rows[0].values == {
        "name": "王小明",
        "id_number": "230102199001011230",
        "start_month": "2026-11",
        "base": 6500,
    }
    assert rows[1].values["start_month"] == "2026-10" and rows[1].values["base"] == 7200
    for text in ("2026/10", "202610", "2026.10", "2026-10-15", "2026年10月"):
        row = ["李红", "230102199202021232", text, "7200"]
        assert batch.read(filled([row]), "x.xlsx", ENROL)[0].values["start_month"] == "2026-10"


def test_csv_in_utf8_or_gb18030_reads_like_the_xlsx() -> None:
    """Excel on Chinese Windows saves CSV as GB 18030; the BOM'd UTF-8 template works too."""
    body = "姓名*,公民身份号码*,停保月份*,停保原因*\r\n王小明,230102199001011230,2026-11,辞职\r\n"
    for data in (body.encode("utf-8-sig"), body.encode("gb18030")):
        (row,) = batch.read(data, "减员.csv", STOP)
        assert row.values == {
            "name": "王小明",
            "id_number": "230102199001011230",
            "stop_month": "2026-11",
            "stop_reason": "辞职",
        }


def test_a_formula_refuses_the_file_and_names_the_cell() -> None:
    """不要带公式: any formula cell, even one that would compute a valid value."""
    error = refused(filled([GOOD, ["李红", "230102199202021232", "2026-11", "=6000+500"]]))
    assert error.code == "batch_formula" and error.cells == ("D3",)
    csv = "姓名*,公民身份号码*,参保开始月份*,缴费基数（元）*\r\n王小明,=1+1,2026-11,6500\r\n"
    assert refused(csv.encode(), "名单.csv").code == "batch_formula"


def test_an_extra_column_refuses_the_file() -> None:
    """不要添加不需要填写的数据: a column the template does not have, or data beside it."""
    book = load_workbook(io.BytesIO(filled([GOOD])))
    book.active["E1"] = "备注"
    out = io.BytesIO()
    book.save(out)
    error = refused(out.getvalue())
    assert error.code == "batch_extra_columns" and error.cells == ("E1 备注",)
    error = refused(filled([[*GOOD, "多余的数据"]]))
    assert error.code == "batch_wrong_type" and "2行" in error.cells[0]


def test_a_missing_required_column_refuses_the_file() -> None:
    data = "姓名*,公民身份号码*,缴费基数（元）*\r\n王小明,230102199001011230,6500\r\n".encode()
    error = refused(data, "名单.csv")
    assert error.code == "batch_missing_columns" and error.cells == ("参保开始月份*",)


@pytest.mark.parametrize(
    ("cell", "value", "where"),
    [
        (1, 230102199001011230, "B2"),  # an ID typed as a number loses its last digits
        (2, "下个月", "C2"),
        (2, 45000, "C2"),
        (2, "2026-13", "C2"),
        (3, "六千五", "D2"),
        (3, 0, "D2"),
        (0, True, "A2"),
    ],
)
def test_a_wrong_type_refuses_the_file(cell: int, value: Any, where: str) -> None:
    """Each wrong cell is named with its column and what it should hold."""
    row = list(GOOD)
    row[cell] = value
    error = refused(filled([row]))
    assert error.code == "batch_wrong_type" and error.cells[0].startswith(where)


def test_a_wrong_choice_refuses_the_file() -> None:
    data = filled([["王小明", "230102199001011230", "2026-11", "跳槽"]], STOP)
    error = refused(data, spec=STOP)
    assert error.code == "batch_wrong_type" and error.cells[0].startswith("D2 停保原因")


def test_more_rows_than_the_limit_refuse_the_file() -> None:
    rows = [GOOD] * (batch.MAX_ROWS + 1)
    assert refused(filled(rows)).code == "batch_too_many_rows"
    assert len(batch.read(filled([GOOD] * batch.MAX_ROWS), "x.xlsx", ENROL)) == batch.MAX_ROWS


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "名单.xlsx"),
        (b"PK\x03\x04broken zip", "名单.xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "名单.xls"),  # the old binary .xls
        (b"PK\x03\x04", "名单.csv"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "名单.csv"),
        ("随便写点什么\r\n".encode(), "名单.csv"),
    ],
)
def test_something_not_a_spreadsheet_is_refused(data: bytes, name: str) -> None:
    assert refused(data, name).code == "batch_not_spreadsheet"


def test_a_docx_renamed_xlsx_is_not_a_spreadsheet() -> None:
    """A zip that openpyxl cannot open as a workbook (a Word file with the wrong name)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert refused(out.getvalue()).code == "batch_not_spreadsheet"


def test_a_header_only_file_is_empty() -> None:
    assert refused(filled([])).code == "batch_empty"
    book = Workbook()
    out = io.BytesIO()
    book.save(out)
    assert refused(out.getvalue()).code == "batch_empty"


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400), csv_name=st.booleans())
def test_any_bytes_read_or_raise_a_documented_error(data: bytes, csv_name: bool) -> None:
    """Any upload is rows or one of the batch file errors — never anything else."""
    try:
        batch.read(data, "x.csv" if csv_name else "x.xlsx", ENROL)
    except errors.BatchFileError as exc:
        assert exc.code.startswith("batch_")


def test_rows_are_checked_one_by_one_before_the_core_system() -> None:
    """A wrong ID check digit, an empty required cell and the same person twice are row
    errors with the single form's codes; the other rows pass."""
    rows = batch.read(
        filled(
            [
                GOOD,
                ["李红", "230102199202021233", "2026-11", "7000"],  # check digit wrong
                ["赵六", "230102199202021232", None, "7000"],  # start month missing
                ["王小明", "230102199001011230", "2026-10", "6000"],  # twice
                ["陈七", "11010519491231002X", "2026-11", "5000"],
            ]
        ),
        "x.xlsx",
        ENROL,
    )
    outcomes = batch.prepare(rows, ENROL, today=dt.date(2026, 12, 1))
    assert [(o.number, o.error.code if o.error else None) for o in outcomes] == [
        (2, None),
        (3, "invalid_id_number"),
        (4, "invalid_field"),
        (5, "batch_duplicate_row"),
        (6, None),
    ]
    assert outcomes[0].person is not None and outcomes[0].person.data == {
        "start_month": "2026-11",
        "base": 6500,
    }


def test_blank_rows_and_cells_are_skipped_wherever_they_are() -> None:
    """Empty rows between and after the data, and a row whose first cell is empty."""
    rows = batch.read(
        filled(
            [GOOD]
            + [[None] * 4] * (batch.MAX_ROWS + 10)
            + [["李红", "230102199202021232", "2026-11", "7000"]]
        ),
        "x.xlsx",
        ENROL,
    )
    assert [r.number for r in rows] == [2, batch.MAX_ROWS + 13]
    (row,) = batch.prepare(
        batch.read(filled([[None, "230102199202021232", "2026-11", "7000"]]), "x.xlsx", ENROL),
        ENROL,
        today=dt.date(2026, 12, 1),
    )
    assert row.error is not None and row.error.code == "invalid_name"
