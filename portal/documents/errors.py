"""Errors of documents and batch files, in the portal's one registry (portal.errors.REGISTRY).

Kept in their own module so that each stays next to the code that raises it; codes are stable.
Seed 001 item 11 (4) and 27: 暂无单据. Seed 001 item 50: 不要带格式,带公式,不要添加不需要填写的数据.
"""

from __future__ import annotations

from portal.errors import REGISTRY, PortalError


def _register(cls: type[PortalError]) -> type[PortalError]:
    REGISTRY[cls.code] = cls
    return cls


@_register
class NoDocument(PortalError):
    """Seed 001 item 11 (4): the core system has produced no document for this application."""

    code = "no_document"
    status = 404
    zh = "暂无单据"
    en = "No document yet: the receipt is issued once the agency has accepted the application"


@_register
class InvalidPeriod(PortalError):
    """单位权益单: 选择险种、时间段 (seed 003 三、5) — the period must be real months in order."""

    code = "invalid_period"
    status = 400
    zh = "缴费起止年月不正确，请重新选择"
    en = "The period is not valid: choose a start and end month, start first, not in the future"


@_register
class CertificateKeysUnavailable(PortalError):
    code = "certificate_keys_unavailable"
    status = 503
    zh = "电子印章服务暂时不可用，请稍后再试"
    en = "The certificate signing service is temporarily unavailable"


class BatchFileError(PortalError):
    """A batch file refused as a whole; `cells` names where (shown on the page, in `detail`).
    Each refusal below is a subclass with its own code; this base is never raised itself."""

    code = "batch_file_invalid"
    status = 400
    zh = "上传文件不符合模板要求"
    en = "The uploaded file does not match the template"
    cells: tuple[str, ...] = ()

    def where(self, cells: list[str]) -> BatchFileError:
        self.cells = tuple(cells[:20])
        return self

    def body(self, request_id: str = "") -> dict[str, object]:
        return {**super().body(request_id), "cells": list(self.cells)}


REGISTRY[BatchFileError.code] = BatchFileError


def _batch(code: str, status: int, zh: str, en: str) -> type[BatchFileError]:
    cls = type(
        "".join(p.title() for p in code.split("_")),
        (BatchFileError,),
        {"code": code, "status": status, "zh": zh, "en": en},
    )
    REGISTRY[code] = cls
    return cls


BatchNotSpreadsheet = _batch(
    "batch_not_spreadsheet",
    415,
    "上传的文件不是有效的 Excel(xlsx) 或 CSV 文件，请下载模板填写后上传",
    "The file is not a valid XLSX or CSV file; download the template, fill it in and upload it",
)
BatchFormula = _batch(
    "batch_formula",
    400,
    "导入文件中不能带公式，请将公式单元格改为直接填写的数据后重新上传",
    "The file contains formulas; type the values in instead and upload again",
)
BatchExtraColumns = _batch(
    "batch_extra_columns",
    400,
    "导入文件中有模板以外的列，请不要添加不需要填写的数据",
    "The file has columns the template does not have; remove them",
)
BatchMissingColumns = _batch(
    "batch_missing_columns",
    400,
    "导入文件缺少模板中的必填列（带星号的栏为必填栏），请使用下载的模板",
    "Required columns of the template are missing; use the downloaded template",
)
BatchWrongType = _batch(
    "batch_wrong_type",
    400,
    "导入文件中有单元格的数据类型不正确，请按照要求填写数据",
    "Some cells hold the wrong type of data; fill them in as the template asks",
)
BatchTooManyRows = _batch(
    "batch_too_many_rows",
    400,
    "导入文件的人员数量超过上限，请分批导入",
    "The file has more rows than allowed; split it into several files",
)
BatchEmpty = _batch(
    "batch_empty",
    400,
    "导入文件中没有人员数据",
    "The file holds no rows to import",
)


@_register
class CertificateInvalid(PortalError):
    """Same words as the phone (mobile_sim certificate_invalid)."""

    code = "certificate_invalid"
    status = 400
    zh = "此二维码不是有效的电子证明，证明可能被伪造或篡改"
    en = "This QR code is not a valid certificate; it may be forged or altered"


@_register
class CertificateExpired(PortalError):
    code = "certificate_expired"
    status = 400
    zh = "该证明已超过有效期"
    en = "This certificate has expired"


BatchDuplicateRow = _batch(
    "batch_duplicate_row",
    400,
    "导入文件中该人员重复出现，同一人员只能填写一行",
    "This person appears more than once in the file; keep one row",
)
