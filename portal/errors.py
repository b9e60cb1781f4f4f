"""The portal's one error registry: a stable code, an HTTP status, a zh and an en message.

`detail` is private: it is logged, never sent. 5xx errors expose a generic message only.
Messages quote the seeds where a seed words the situation (seed 000 §5 常见问题).
"""

from __future__ import annotations

from typing import ClassVar


class PortalError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    zh: ClassVar[str] = "系统繁忙，请稍后再试"
    en: ClassVar[str] = "Something went wrong on our side; please try again later"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail

    def message(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def body(self, request_id: str = "") -> dict[str, object]:
        return {
            "error": self.code,
            "message": {"zh": self.zh, "en": self.en},
            "request_id": request_id,
        }


REGISTRY: dict[str, type[PortalError]] = {}


def _error(code: str, status: int, zh: str, en: str) -> type[PortalError]:
    cls = type(
        "".join(part.title() for part in code.split("_")),
        (PortalError,),
        {"code": code, "status": status, "zh": zh, "en": en},
    )
    REGISTRY[code] = cls
    return cls


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

# Field validation
InvalidIdNumber = _error(
    "invalid_id_number", 400, "证件号码格式不正确，请核对后重新输入", "The ID number is not valid"
)
InvalidCreditCode = _error(
    "invalid_credit_code",
    400,
    "统一社会信用代码格式不正确，请核对后重新输入",
    "The unified social credit code is not valid",
)
InvalidPhone = _error("invalid_phone", 400, "联系电话格式不正确", "The phone number is not valid")
InvalidName = _error("invalid_name", 400, "姓名不能为空", "The name is required")
AgreementRequired = _error(
    "agreement_required",
    400,
    "请阅读并同意《法人用户注册协议》",
    "Please accept the registration agreement",
)

# Company registration (seed 000 §5.1)
RegistryVerificationFailed = _error(
    "registry_verification_failed",
    400,
    "企业信息在组织机构相关信息库验证失败，无法注册！",
    "The company was not found in the organization registries; it cannot be registered",
)
CompanyNameMismatch = _error(
    "company_name_mismatch",
    400,
    "单位名称与统一社会信用代码不一致，请核对后重新注册！",
    "The company name does not match the unified social credit code",
)
LegalRepMismatch = _error(
    "legal_rep_mismatch",
    400,
    "法定代表人姓名、证件号码与参保信息中的法人信息不一致，无法注册！",
    "The legal representative does not match the registered company records",
)
LegalRepAccountExists = _error(
    "legal_rep_account_exists",
    409,
    "根据统一社会信用代码发现，当前法人账号已经存在，可以直接扫码登录！",
    "A legal representative account already exists for this credit code; log in by scanning",
)

# Agents and grants (seed 000 §3, seed 002 总结)
AgentLimitReached = _error(
    "agent_limit_reached",
    409,
    "每个单位最多可添加10名经办人，请删除后再添加",
    "A company may have at most ten agents",
)
AdminLimitReached = _error(
    "admin_limit_reached",
    409,
    "每个单位最多只能设置1名管理员",
    "A company may have at most one administrator",
)
AgentExists = _error(
    "agent_exists", 409, "该经办人已添加，请勿重复添加", "This agent has already been added"
)
AgentNotFound = _error("agent_not_found", 404, "未找到该经办人", "Agent not found")
RelationshipNotFound = _error(
    "relationship_not_found",
    400,
    "所选参保关系不属于本单位",
    "The insurance relationship is not this company's",
)
UnknownBusinessItem = _error(
    "unknown_business_item", 400, "未知的业务事项", "Unknown business item"
)
CompanyNotFound = _error(
    "company_not_found",
    404,
    "系统没有识别到该单位的有效公共服务注册信息，请在公共服务端办理注册后再由经办机构进行授权操作。",
    "No registered company matches; the company must register before counter authorization",
)
UploadRequired = _error(
    "upload_required", 400, "请上传已签字的授权委托书", "Upload the signed authorization form"
)
UploadTooLarge = _error("upload_too_large", 413, "上传的文件过大", "The uploaded file is too large")
UploadBadType = _error(
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


def lookup(code: str) -> type[PortalError]:
    return REGISTRY.get(code, PortalError)
