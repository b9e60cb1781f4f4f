"""The one error registry: a stable code, an HTTP status and a message in Chinese and English.

`detail` is private: it is logged, never sent. 5xx errors only ever expose a generic message.
OAuth/OIDC protocol errors (`OAuthError` and its subclasses) carry the RFC 6749 `error` code as
their `code` and a public `description`; the one middleware renders them in the RFC 6749 §5.2
shape at the token endpoint, as RFC 6750 §3 challenges at userinfo, and as §4.1.2.1 error
redirects from /authorize once the redirect URI is verified.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlencode


class QrAuthError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    zh: ClassVar[str] = "系统繁忙，请稍后再试"
    en: ClassVar[str] = "Something went wrong on our side; please try again later"

    def __init__(
        self,
        detail: str = "",
        *,
        zh: str | None = None,
        en: str | None = None,
        retry_after: int = 0,
    ) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.retry_after = retry_after  # seconds, sent as Retry-After when set
        self.message_zh = zh or self.zh
        self.message_en = en or self.en

    def headers(self) -> dict[str, str]:
        """Response headers this error adds (a challenge, Retry-After); the middleware sets them."""
        return {}

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

    def __init__(
        self,
        detail: str = "",
        *,
        zh: str | None = None,
        en: str | None = None,
        retry_after: int = 60,
    ) -> None:
        super().__init__(detail, zh=zh, en=en, retry_after=retry_after)

    def headers(self) -> dict[str, str]:
        """On every rendering (JSON, OAuth, page): how long to wait, at most."""
        return {"Retry-After": str(self.retry_after)}


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

# The card registry (社保卡持卡人库), seed 004: 如本人无实体社保卡、实体卡状态异常（封存、挂失、
# 应用锁定、注销等）……都会影响电子社保卡的正常申领.
CardHolderUnknown = _error(
    "card_holder_unknown",
    403,
    "未查询到本人的实体社保卡，无法申领电子社保卡",
    "No physical social security card is registered for this ID number",
)
CardHolderNameMismatch = _error(
    "card_holder_name_mismatch",
    403,
    "姓名与公民身份号码不一致，无法申领电子社保卡",
    "The name does not match the card holder of this ID number",
)
PhysicalCardAbnormal = _error(
    "physical_card_abnormal",
    403,
    "实体卡状态异常（封存、挂失、应用锁定、注销等），影响电子社保卡的正常使用",
    "The physical social security card is not in normal state",
)
EcardBlocked = _error(
    "ecard_blocked",
    409,
    "您的电子社保卡已挂失或暂停使用，请先办理卡解挂，不能重新申领",
    "Your e-card is lost or suspended; unlock it instead of applying again",
)
EcardApplicationConflict = _error(
    "ecard_application_conflict",
    409,
    "电子社保卡申领正在办理中，请稍后再试",
    "Another application for this person is in progress; try again shortly",
)

# The face check the server decides
FaceModeRefused = _error(
    "face_mode_refused",
    400,
    "人脸识别结果由认证服务判定，请按提示采集本人人脸",
    "The phone cannot report a face-check result; answer the server's liveness challenge",
)
FaceChallengeInvalid = _error(
    "face_challenge_invalid",
    400,
    "人脸识别已超时或已使用，请重新采集本人人脸",
    "The liveness challenge is unknown, expired or already used; start again",
)
FaceLockedToday = _error(
    "face_locked_today",
    429,
    "今日人脸识别失败次数过多，请明日再试",
    "Too many failed face checks today; try again tomorrow",
)


class KeyringRefused(QrAuthError, ValueError):
    """A key operation the keyring will not do now (`authsvc keys add|promote|retire`); the
    detail says why and what to do instead. Also a ValueError, as callers caught before."""

    code = "keyring_refused"
    status = 409
    zh = "密钥操作未执行"
    en = "The key operation was refused"

    @property
    def reason(self) -> str:
        return self.detail or self.code

    def __str__(self) -> str:
        return self.reason


class UnknownKey(KeyringRefused, KeyError):
    """The keyring has no key with this kid (`authsvc keys retire KID`). Also a KeyError, as
    the keyring's callers looked keys up before the registry existed."""

    code = "unknown_key"
    status = 404
    zh = "未找到该密钥"
    en = "No key with this kid"


class CurrentKeyRetire(KeyringRefused):
    """The current signing key cannot be retired: promote (or rotate) a successor first."""

    code = "current_key_retire"
    zh = "不能停用当前签名密钥，请先轮换密钥"
    en = "The current key cannot be retired; rotate first"


class OAuthError(QrAuthError):
    """An OAuth 2.0 error: `code` is the RFC 6749 `error` value, `description` its public
    `error_description` (RFC 6749 §5.2: human-readable ASCII text, no secrets)."""

    status: ClassVar[int] = 400
    zh: ClassVar[str] = "登录请求无效"
    en: ClassVar[str] = "The login request is not valid"
    challenge: ClassVar[str] = ""
    """The WWW-Authenticate header value sent with this error, if any."""

    def __init__(self, description: str = "") -> None:
        super().__init__(description)
        self.description = description or self.en

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge} if self.challenge else {}

    def oauth_body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


class TokenRequestInvalid(OAuthError):
    """RFC 6749 §5.2 `invalid_request`: a parameter is missing, repeated or malformed."""

    code = "invalid_request"


class TokenRequestTooLarge(TokenRequestInvalid):
    """RFC 6749 §5.2 `invalid_request` for a token request body over the size limit (413)."""

    status = 413


class InvalidClient(OAuthError):
    """RFC 6749 §5.2 `invalid_client`: client authentication failed (401 with a challenge)."""

    code = "invalid_client"
    status = 401
    challenge = 'Basic realm="qrauth"'


class InvalidGrant(OAuthError):
    """RFC 6749 §5.2 `invalid_grant`: the code is unknown, expired, used, issued to another
    client or redirect URI, or fails PKCE (RFC 7636 §4.6)."""

    code = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    """RFC 6749 §5.2 `unsupported_grant_type`: only `authorization_code` is offered."""

    code = "unsupported_grant_type"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1 `invalid_token`: the bearer token is unknown, expired or revoked."""

    code = "invalid_token"
    status = 401
    challenge = 'Bearer error="invalid_token"'


class AuthorizeRedirect(OAuthError):
    """An RFC 6749 §4.1.2.1 authorization error, sent back to the client's verified redirect
    URI with `error`, `error_description`, `state` and (RFC 9207) `iss`; never raised before
    the redirect URI is checked against the registration."""

    status = 302

    def __init__(self, description: str, *, redirect_uri: str, state: str, issuer: str) -> None:
        super().__init__(description)
        params = {"error": self.code, "error_description": description, "iss": issuer}
        if state:
            params["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        self.location = f"{redirect_uri}{sep}{urlencode(params)}"


class UnsupportedResponseType(AuthorizeRedirect):
    """RFC 6749 §4.1.2.1 `unsupported_response_type`: only `response_type=code`."""

    code = "unsupported_response_type"


class InvalidScope(AuthorizeRedirect):
    """RFC 6749 §4.1.2.1 `invalid_scope`; OIDC Core §3.1.2.1 requires `openid`."""

    code = "invalid_scope"


class AuthorizeRequestInvalid(AuthorizeRedirect):
    """RFC 6749 §4.1.2.1 `invalid_request`, here PKCE S256 missing (RFC 7636 §4.4.1)."""

    code = "invalid_request"


class RequestNotSupported(AuthorizeRedirect):
    """OIDC Core §3.1.2.6 `request_not_supported`: request objects are not accepted."""

    code = "request_not_supported"


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1 `insufficient_scope`: the bearer token lacks the scope this API needs
    (`ecard` for 我的社会保障卡)."""

    code = "insufficient_scope"
    status = 403
    zh = "该系统未获授权办理社会保障卡业务"
    en = "The access token does not carry the ecard scope"
    challenge = 'Bearer error="insufficient_scope", scope="ecard"'


class UnmetAuthenticationRequirements(AuthorizeRedirect):
    """OpenID Connect Core §3.1.2.6 / OpenID `unmet_authentication_requirements`: none of
    the requested `acr_values` can be met."""

    code = "unmet_authentication_requirements"


# 5xx errors whose own message may be shown: they say what to do, and reveal nothing inside.
PUBLIC_SERVER_ERRORS = frozenset({Unavailable.code, AccountsUnavailable.code})
