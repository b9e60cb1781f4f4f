"""The one error registry: a stable code, an HTTP status and a message in Chinese and English.

`detail` is private: it is logged, never sent. 5xx errors only ever expose a generic message.
"""

from __future__ import annotations

from typing import ClassVar


class QrAuthError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    zh: ClassVar[str] = "系统繁忙，请稍后再试"
    en: ClassVar[str] = "Something went wrong on our side; please try again later"

    def __init__(self, detail: str = "", *, zh: str | None = None, en: str | None = None) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.message_zh = zh or self.zh
        self.message_en = en or self.en

    def body(self, request_id: str = "") -> dict[str, object]:
        return {
            "error": self.code,
            "message": {"zh": self.message_zh, "en": self.message_en},
            "request_id": request_id,
        }


def _error(code: str, status: int, zh: str, en: str) -> type[QrAuthError]:
    return type(
        "".join(part.title() for part in code.split("_")),
        (QrAuthError,),
        {"code": code, "status": status, "zh": zh, "en": en},
    )


# Request shape
MalformedJson = _error("malformed_json", 400, "请求格式错误", "The request body is not valid JSON")
InvalidRequest = _error(
    "invalid_request", 400, "请求参数错误", "The request is missing or has invalid parameters"
)
BodyTooLarge = _error("body_too_large", 413, "请求内容过大", "The request body is too large")


class RateLimited(QrAuthError):
    """RFC 6585 §4: too many requests; `Retry-After` says how many seconds to wait at most."""

    code = "rate_limited"
    status = 429
    zh = "操作过于频繁，请稍后再试"
    en = "Too many requests; please slow down"

    def __init__(self, detail: str = "", *, retry_after: int = 60) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


NotFound = _error("not_found", 404, "您访问的页面不存在", "Not found")
Unauthorized = _error("unauthorized", 401, "未授权的请求", "The request is not authorized")
ForbiddenOrigin = _error("forbidden_origin", 403, "来源不被允许", "This origin is not allowed")
Unavailable = _error(
    "service_unavailable",
    503,
    "服务暂时不可用，请稍后再试",
    "The service is temporarily unavailable",
)

# Clients
UnknownClient = _error("unknown_client", 400, "未登记的接入系统", "Unknown client")
IdentityNotAllowed = _error(
    "identity_not_allowed",
    400,
    "该系统不支持此登录身份",
    "This portal does not accept that identity",
)

# QR and tickets
QrInvalid = _error(
    "qr_invalid",
    400,
    "此二维码不是本平台的登录二维码",
    "This QR code is not a login code of this platform",
)
QrUnknownKey = _error(
    "qr_unknown_key",
    400,
    "此二维码不是本平台的登录二维码",
    "This QR code was signed with an unknown key",
)
TicketNotFound = _error(
    "ticket_not_found",
    404,
    "二维码已失效，请刷新二维码",
    "The QR code is no longer valid; refresh it",
)
TicketExpired = _error(
    "ticket_expired", 410, "二维码已过期，请刷新二维码", "The QR code has expired; refresh it"
)
TicketAlreadyScanned = _error(
    "ticket_already_scanned", 409, "二维码已被扫描", "This QR code has already been scanned"
)
TicketStateConflict = _error(
    "ticket_state_conflict",
    409,
    "当前登录状态不允许此操作",
    "This step is not allowed in the login's current state",
)
TicketConsumed = _error(
    "ticket_consumed", 410, "该二维码已使用，请刷新二维码", "This QR code has already been used"
)
BrowserSecretInvalid = _error(
    "browser_secret_invalid",
    403,
    "页面凭据无效，请刷新页面",
    "The browser secret is wrong; reload the page",
)
NotTicketDevice = _error(
    "not_ticket_device",
    403,
    "请使用扫码的手机继续操作",
    "Continue on the phone that scanned this code",
)

# Phone and e-card
DeviceSignatureInvalid = _error(
    "device_signature_invalid", 401, "手机请求签名无效", "The phone's request signature is invalid"
)
RequestReplayed = _error("request_replayed", 401, "重复的请求", "This request was already received")
EcardInvalid = _error(
    "ecard_invalid", 401, "电子社保卡凭证无效", "The e-card credential is invalid"
)
EcardNotActive = _error(
    "ecard_not_active",
    403,
    "您的电子社保卡状态异常，无法扫码登录",
    "Your e-card is not active; it cannot be used to log in",
)
EcardNotFound = _error("ecard_not_found", 404, "未找到该电子社保卡", "No such e-card")
DeviceMismatch = _error(
    "device_key_mismatch",
    401,
    "设备与电子社保卡不匹配",
    "This device is not the one the e-card was issued to",
)
IdNumberInvalid = _error(
    "id_number_invalid", 400, "公民身份号码格式不正确", "The ID number is not valid"
)
FaceCheckFailed = _error(
    "face_check_failed", 403, "人脸识别未通过，请重试", "The face check failed; try again"
)
FaceCheckExhausted = _error(
    "face_check_exhausted",
    403,
    "人脸识别失败次数过多，本次登录已取消",
    "Too many failed face checks; this login was cancelled",
)
FaceCheckRequired = _error(
    "face_check_required", 403, "请先完成人脸识别", "Complete the face check first"
)
AccountNotOffered = _error(
    "account_not_offered", 400, "所选账号不可用", "That account was not offered"
)
AccountRequired = _error("account_required", 400, "请选择登录账号", "Choose an account first")
AccountsUnavailable = _error(
    "accounts_unavailable",
    502,
    "接入系统暂时无法响应，请稍后重新扫码",
    "The portal did not answer; scan again shortly",
)
NoAccount = _error("no_account", 403, "未找到账号信息", "No account was found")
NumberMismatch = _error(
    "number_mismatch",
    403,
    "所选数字与电脑屏幕上的数字不一致，本次登录已取消",
    "That is not the number on the computer's screen; this login was cancelled",
)
NumberMatchRequired = _error(
    "number_match_required",
    403,
    "请先选择电脑屏幕上显示的数字",
    "First pick the number shown on the computer's screen",
)
AdminTokenInvalid = _error("admin_token_invalid", 401, "管理令牌无效", "The admin token is wrong")

# 5xx errors whose own message may be shown: they say what to do, and reveal nothing inside.
PUBLIC_SERVER_ERRORS = frozenset({Unavailable.code, AccountsUnavailable.code})
