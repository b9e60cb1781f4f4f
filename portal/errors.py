"""The portal's one error registry: a stable code, an HTTP status, a zh and an en message.

`detail` is private: it is logged, never sent. 5xx errors expose a generic message only.
Messages quote the seeds where a seed words the situation (seed 000 §5 常见问题).
"""

from __future__ import annotations

from typing import ClassVar


class PortalError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    zh: str = "系统繁忙，请稍后再试"
    en: str = "Something went wrong on our side; please try again later"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail

    def message(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After of a 429)."""
        return {}

    def body(self, request_id: str = "") -> dict[str, object]:
        return {
            "error": self.code,
            "message": {"zh": self.zh, "en": self.en},
            "request_id": request_id,
        }


class FormError(PortalError):
    """A refusal the visitor answers by correcting what they typed, chose or uploaded: the
    handler shows the same form again with this message (and the status), never the error page.
    Handlers catch this one type; everything else (login, permissions, a missing page, a
    tampered request, outages) goes to the middleware's error page."""


REGISTRY: dict[str, type[PortalError]] = {}


def _error(
    code: str, status: int, zh: str, en: str, base: type[PortalError] = PortalError
) -> type[PortalError]:
    cls = type(
        "".join(part.title() for part in code.split("_")),
        (base,),
        {"code": code, "status": status, "zh": zh, "en": en},
    )
    REGISTRY[code] = cls
    return cls


def _form(code: str, status: int, zh: str, en: str) -> type[PortalError]:
    return _error(code, status, zh, en, base=FormError)


REGISTRY[PortalError.code] = PortalError

# Requests and pages
NotFound = _error("not_found", 404, "您访问的页面不存在", "Page not found")
MethodNotAllowed = _error("method_not_allowed", 405, "不支持的请求方式", "Method not allowed")
InvalidRequest = _error(
    "invalid_request", 400, "请求参数错误", "The request has missing or invalid fields"
)
DatabaseUnavailable = _error(
    "database_unavailable",
    503,
    "系统繁忙，请稍后再试",
    "The service is busy; please try again later",
)
BodyTooLarge = _error("body_too_large", 413, "请求内容过大", "The request body is too large")
CsrfFailed = _error(
    "csrf_failed",
    403,
    "页面已过期或来源不明，请刷新页面后重试",
    "The form has expired; reload the page and retry",
)
LoginRequired = _error("login_required", 401, "请先登录", "Please log in first")
Forbidden = _error(
    "forbidden", 403, "您无权访问该单位的信息", "You are not authorized for this company"
)
ModuleForbidden = _error(
    "module_forbidden", 403, "当前账号无权使用此功能", "This account cannot use this function"
)


class TooManyAttempts(PortalError):
    """A bounded form was tried too often (rules.limits): 429 with Retry-After (RFC 6585 §4)."""

    code = "too_many_attempts"
    status = 429
    zh = "操作过于频繁，请稍后再试"
    en = "Too many attempts; please try again later"

    def __init__(self, detail: str = "", *, retry_after: int = 60) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


REGISTRY[TooManyAttempts.code] = TooManyAttempts

# Field validation
InvalidIdNumber = _form(
    "invalid_id_number", 400, "证件号码格式不正确，请核对后重新输入", "The ID number is not valid"
)
InvalidCreditCode = _form(
    "invalid_credit_code",
    400,
    "统一社会信用代码格式不正确，请核对后重新输入",
    "The unified social credit code is not valid",
)
InvalidPhone = _form("invalid_phone", 400, "联系电话格式不正确", "The phone number is not valid")
InvalidName = _form("invalid_name", 400, "姓名不能为空", "The name is required")
InvalidText = _form(
    "invalid_text",
    400,
    "输入内容过长或包含不支持的字符，请核对后重新输入",
    "The text is too long or contains characters that are not allowed",
)
AgreementRequired = _form(
    "agreement_required",
    400,
    "请阅读并同意《法人用户注册协议》",
    "Please accept the registration agreement",
)

# Company registration (seed 000 §5.1)
RegistryVerificationFailed = _form(
    "registry_verification_failed",
    400,
    "企业信息在组织机构相关信息库验证失败，无法注册！",
    "The company was not found in the organization registries; it cannot be registered",
)
LegalRepAccountExists = _form(
    "legal_rep_account_exists",
    409,
    "根据统一社会信用代码发现，当前法人账号已经存在，可以直接扫码登录！",
    "A legal representative account already exists for this credit code; log in by scanning",
)

# Agents and grants (seed 000 §3, seed 002 总结)
AgentLimitReached = _form(
    "agent_limit_reached",
    409,
    "每个单位最多可添加10名经办人，请删除后再添加",
    "A company may have at most ten agents",
)
AdminLimitReached = _form(
    "admin_limit_reached",
    409,
    "每个单位最多只能设置1名管理员",
    "A company may have at most one administrator",
)
AgentExists = _form(
    "agent_exists", 409, "该经办人已添加，请勿重复添加", "This agent has already been added"
)
AgentNotFound = _error("agent_not_found", 404, "未找到该经办人", "Agent not found")
RelationshipNotFound = _form(
    "relationship_not_found",
    400,
    "所选参保关系不属于本单位",
    "The insurance relationship is not this company's",
)
UnknownBusinessItem = _form("unknown_business_item", 400, "未知的业务事项", "Unknown business item")
CompanyNotFound = _form(
    "company_not_found",
    404,
    "系统没有识别到该单位的有效公共服务注册信息，请在公共服务端办理注册后再由经办机构进行授权操作。",
    "No registered company matches; the company must register before counter authorization",
)
UploadRequired = _form(
    "upload_required", 400, "请上传已签字的授权委托书", "Upload the signed authorization form"
)
UploadTooLarge = _form("upload_too_large", 413, "上传的文件过大", "The uploaded file is too large")
UploadBadType = _form(
    "upload_bad_type",
    415,
    "仅支持上传 PNG、JPG 图片或 PDF 文件",
    "Only PNG, JPEG or PDF files are accepted",
)

# Accounts endpoint (seed 000 §5.2.2) and login
NoLegalRepAccount = _error(
    "no_legal_rep_account",
    404,
    "未找到当前法人账号信息，请先注册法人账号！",
    "No legal representative account found; register the company first",
)
NoAgentAccount = _error(
    "no_agent_account",
    404,
    "未找到当前办事员账号信息，请联系法人授权或者去窗口授权！",
    "No agent account found; ask the legal representative or the service counter to authorize you",
)
NoAccount = _error(
    "no_account",
    404,
    "未查询到登录人信息，请注册！",
    "No account found for this person; please register",
)
InvalidAccountsRequest = _error(
    "invalid_accounts_request", 401, "账号查询请求无效", "The accounts request token is not valid"
)
LoginFailed = _error(
    "login_failed", 400, "登录失败，请重新扫码登录", "Login failed; please scan again"
)
AccountRevoked = _error(
    "account_revoked",
    403,
    "当前账号已不存在或授权已取消，请联系法人授权或者去窗口授权！",
    "This account no longer exists or is no longer authorized",
)
ProviderUnavailable = _error(
    "provider_unavailable",
    503,
    "统一身份认证服务暂时不可用，请稍后再试",
    "The login service is temporarily unavailable",
)

# Business handling (seed 000 第4章, seed 001 items 3, 5, 18-21, 27-28, 41, 51; seed 003 三)
ItemForbidden = _error(
    "item_forbidden",
    403,
    "您无权办理该业务事项，请联系法人授权",
    "You are not authorized for this business item or insurance relationship",
)
RelationshipRequired = _error(
    "relationship_required", 400, "请选择参保关系", "Choose an insurance relationship"
)
InsuranceTypeNotAllowed = _error(
    "insurance_type_not_allowed",
    400,
    "该参保关系的险种不能办理此业务",
    "This business item cannot be filed for that insurance type",
)
PersonsRequired = _error(
    "persons_required", 400, "请至少填写一名人员信息", "Enter at least one person"
)
InvalidMonth = _error(
    "invalid_month", 400, "月份格式不正确（如 2026-11）", "The month is not valid (e.g. 2026-11)"
)
InvalidBase = _error(
    "invalid_base",
    400,
    "缴费基数须为1至999999之间的整数（元）",
    "The contribution base must be a whole number of yuan between 1 and 999999",
)
InvalidField = _error(
    "invalid_field", 400, "请完整填写带*号的必填项", "Fill in every required field"
)
AttachmentRequired = _error(
    "attachment_required",
    400,
    "该业务需要上传附件材料，请将附件材料拍成照片，作为电子档上传",
    "This business item needs its attachment (a photo or PDF of the material)",
)
PersonNotCollected = _error(
    "person_not_collected",
    400,
    "未获取到人员基本信息",
    "No base information for this person; collect it first (人员基础信息采集)",
)
FlexibleEmployment = _error(
    "flexible_employment",
    400,
    "该人员为灵活就业参保人员",
    "This person is insured as flexibly employed; they must stop that insurance first",
)
PensionAlreadyInsured = _error(
    "pension_already_insured",
    400,
    "养老已参保，不能再办理参保",
    "Already insured for pension; the former employer may not have stopped it",
)
AlreadyInsured = _error(
    "already_insured",
    400,
    "该人员此险种已参保，不能再办理参保",
    "Already insured for this insurance type",
)
DuplicatePerson = _error(
    "duplicate_person",
    400,
    "根据身份证号码找到多条人员信息，无法办理此业务",
    "Several person records share this ID number; file at the counter",
)
HukouMissing = _error(
    "hukou_missing",
    400,
    "户籍性质为空",
    "The household registration type (户籍性质) is empty; the person must complete it",
)
BenefitsPaid = _error(
    "benefits_paid",
    400,
    "自参保开始日期下一月起，存在失业金发放信息",
    "Unemployment benefits were paid after the start month; they must be repaid first",
)
BackdateLimit = _error(
    "backdate_limit",
    400,
    "参保开始月份超出补缴范围：网报系统只能从实际操作月往前补六个月",
    "The start month is out of range: at most six months back, never in the future",
)
PersonNameMismatch = _error(
    "person_name_mismatch",
    400,
    "姓名与人员基础信息不一致",
    "The name does not match the person's base information",
)
PersonExists = _error(
    "person_exists",
    400,
    "该人员基础信息已存在，无需重复采集",
    "This person's base information already exists",
)
NotInsuredHere = _error(
    "not_insured_here",
    400,
    "该人员在本单位无此险种的有效参保信息",
    "The person has no active insurance of this type with this unit",
)
BaseNotHigher = _error(
    "base_not_higher",
    400,
    "调整后的缴费基数须高于原缴费基数",
    "The new contribution base must be higher than the current one",
)
PendingApplication = _error(
    "pending_application",
    409,
    "该人员存在未办结的同类业务，请勿重复申报",
    "This person already has the same business in progress",
)
RollbackTargetInvalid = _error(
    "rollback_target_invalid",
    400,
    "未找到本单位可回退的已办结业务，请核对受理流水号",
    "No completed, not yet rolled back application of this company has that serial number",
)
OutsideBusinessWindow = _error(
    "outside_business_window",
    409,
    "不在当前业务周期。网厅申报类业务的时间周期为每个月的5号上午9点到25号下午5点，"
    "业务已保存至待提交，请在业务周期内提交",
    "Outside the business window (the 5th 09:00 to the 25th 17:00 each month); "
    "the application was saved as a draft, submit it once the window opens",
)
ApplicationNotFound = _error("application_not_found", 404, "未找到该办件", "Application not found")
ApplicationState = _error(
    "application_state",
    409,
    "当前办件状态不允许此操作",
    "The application's state does not allow this",
)
ApplicationFinal = _error(
    "application_final",
    409,
    "已撤回或已退回的业务不能恢复，只能重新申报",
    "A withdrawn or returned application is final; file a new one",
)
WithdrawRefused = _error(
    "withdraw_refused",
    409,
    "该业务已由经办人员办理，只能联系经办人员退回",
    "A reviewer has picked this application up; only the reviewer can return it",
)
OwnApplication = _error(
    "own_application",
    403,
    "不能审核本人提交的业务",
    "You cannot review an application you filed",
)
NotReviewer = _error(
    "not_reviewer",
    409,
    "该业务已由其他经办人员领取",
    "Another reviewer holds this application",
)
OtherAgency = _error(
    "other_agency",
    403,
    "该业务不属于本经办机构",
    "This application belongs to another agency",
)
ReasonRequired = _error("reason_required", 400, "请填写退回原因", "Give the reason for returning")
CoreRejected = _error(
    "core_rejected",
    409,
    "核心业务系统校验未通过，请退回该业务",
    "The core system refuses the change; return the application",
)


def lookup(code: str) -> type[PortalError]:
    return REGISTRY.get(code, PortalError)
