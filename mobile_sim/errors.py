"""The phone's refusals: a stable code, a Chinese and an English message, and the HTTP status when
the broker refused. `detail` is private (why the phone refused); it is never shown as the message.

Refusals by the broker keep the broker's code (see authsvc/errors.py); the codes below are the
ones the phone itself raises, before or without sending anything."""

from __future__ import annotations

from typing import Any


class PhoneError(Exception):
    """A refusal, by the phone itself or by the broker: a stable code and the messages."""

    def __init__(self, code: str, zh: str, en: str, status: int = 0, *, detail: str = "") -> None:
        super().__init__(f"{code}: {zh}")
        self.code, self.zh, self.en, self.status, self.detail = code, zh, en, status, detail

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": {"zh": self.zh, "en": self.en},
            "status": self.status,
        }


class Unreachable(PhoneError):
    """The broker, or the portal publishing certificate keys, could not be reached at all."""


class UsageError(PhoneError):
    """The caller asked for something impossible (a missing file, an unknown option value)."""


def qr_invalid(detail: str) -> PhoneError:
    """Forged, altered, foreign or expired: every refusal of a login QR reads the same."""
    return PhoneError(
        "qr_invalid",
        "此二维码不是本平台的登录二维码",
        "This QR code is not a login code of this platform",
        detail=detail,
    )


def broker_unreachable(url: str, detail: str) -> Unreachable:
    return Unreachable(
        "broker_unreachable",
        f"无法连接认证服务（{url}），请检查网络后重试",
        f"Cannot reach the login service at {url}; check the network and try again",
        detail=detail,
    )


def no_ecard() -> PhoneError:
    return PhoneError(
        "no_ecard",
        "您尚未申领电子社保卡，请先申领电子社保卡",
        "This phone has no e-card yet; apply for one first",
    )


def no_face(id_number: str) -> PhoneError:
    return PhoneError(
        "no_face",
        "未找到本人人脸（faces 文件夹），无法完成人脸识别",
        "This person's face is not in the faces folder; the face check cannot pass",
        detail=id_number[:4] + "…",
    )


def face_mode_unknown(mode: str) -> PhoneError:
    return PhoneError(
        "face_mode_unknown",
        "人脸识别只能采集本人人脸（capture）或模拟失败（fail）",
        "The face check is either a capture of the person's face or a chosen failure",
        detail=mode[:20],
    )


def no_scan() -> PhoneError:
    return PhoneError("no_scan", "请先扫描登录二维码", "Scan a login QR code first")


def account_not_offered() -> PhoneError:
    return PhoneError("account_not_offered", "所选账号不可用", "That account was not offered")


def broker_changed(pinned: str, answered: str) -> PhoneError:
    return PhoneError(
        "broker_issuer_changed",
        "认证服务身份与首次使用时不一致，已停止操作",
        "The login service answered as a different issuer than the one pinned at first use",
        detail=f"pinned {pinned!r}, answered {answered!r}",
    )


def image_unreadable(detail: str) -> PhoneError:
    return PhoneError(
        "image_unreadable",
        "无法读取图片，请使用 PNG 或 JPEG 格式的截图",
        "The image cannot be read; use a PNG or JPEG screenshot",
        detail=detail,
    )


def image_too_large(detail: str) -> PhoneError:
    return PhoneError(
        "image_too_large",
        "图片过大，请裁剪后重试",
        "The image is too large; crop it and try again",
        detail=detail,
    )


def qr_not_found() -> PhoneError:
    return PhoneError(
        "qr_not_found",
        "未在图片中识别到二维码，请重新截图",
        "No QR code was found in the image",
    )


def qr_ambiguous(count: int) -> PhoneError:
    return PhoneError(
        "qr_ambiguous",
        "图片中有多个二维码，请只截取要扫描的二维码",
        "The image holds several QR codes; crop it to the one to scan",
        detail=f"{count} codes",
    )


def file_not_found(path: str) -> UsageError:
    return UsageError(
        "file_not_found",
        f"找不到文件：{path}",
        f"No such file: {path}",
    )


def certificate_invalid(detail: str) -> PhoneError:
    return PhoneError(
        "certificate_invalid",
        "此二维码不是有效的电子证明，证明可能被伪造或篡改",
        "This QR code is not a valid certificate; it may be forged or altered",
        detail=detail,
    )


def certificate_expired(detail: str) -> PhoneError:
    return PhoneError(
        "certificate_expired",
        "该证明已超过有效期",
        "This certificate has expired",
        detail=detail,
    )


def certificate_keys_unavailable(url: str, detail: str) -> Unreachable:
    return Unreachable(
        "certificate_keys_unavailable",
        f"无法获取证明验签公钥（{url}），请联网后重试",
        f"Cannot fetch the certificate keys from {url}; connect and try again",
        detail=detail,
    )
