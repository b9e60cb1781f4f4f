"""How the phone shows things, shared by the CLI and the phone page: labels, masks, summaries.

Pure functions over plain data; Chinese first, English when asked."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from authsvc.core.crypto import b64u_decode
from authsvc.core.idnumber import mask, mask_name

ROLES: dict[str, tuple[str, str]] = {
    "personal": ("个人", "Personal"),
    "legal_rep": ("法定代表人", "Legal representative"),
    "admin": ("管理员", "Administrator"),
    "agent": ("经办人", "Agent"),
    "staff": ("经办机构工作人员", "Agency staff"),
}
GROUPS: dict[str, tuple[str, str]] = {
    "personal": ("个人登录", "Personal login"),
    "company": ("单位登录", "Company login"),
    "agency": ("经办机构登录", "Agency login"),
}
IDENTITIES: dict[str, tuple[str, str]] = {
    "personal": ("个人登录", "personal login"),
    "legal_rep": ("法人扫码登录", "legal representative login"),
    "agent": ("办事员扫码登录", "agent login"),
}


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def group_of(role: str) -> str:
    if role == "personal":
        return "personal"
    return "agency" if role == "staff" else "company"


def mask_card_no(card_no: str) -> str:
    """E12345678AB12 → E123*****AB12."""
    return card_no[:4] + "*" * (len(card_no) - 8) + card_no[-4:] if len(card_no) > 8 else card_no


def card_claims(token: str) -> dict[str, Any]:
    """The claims of our own stored e-card, for display only (the broker verifies it)."""
    try:
        claims = json.loads(b64u_decode(token.split(".")[1]))
    except (IndexError, ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def card_view(token: str, card_no: str) -> dict[str, str]:
    claims = card_claims(token)
    return {
        "card_no": card_no,
        "card_no_masked": mask_card_no(card_no),
        "name_masked": mask_name(str(claims.get("name", ""))),
        "id_number_masked": mask(str(claims.get("id_number", ""))),
    }


def account_view(account: Mapping[str, Any], lang: str = "zh") -> dict[str, Any]:
    role = str(account.get("role", ""))
    group = group_of(role)
    company = str(account.get("company_name", "") or "")
    if role == "personal":
        company = mask_name(str(account.get("name", "") or ""))
    return {
        "key": str(account.get("key", "")),
        "role": role,
        "group": group,
        "group_label": pick(GROUPS[group], lang),
        "role_label": pick(ROLES.get(role, (role, role)), lang),
        "company": company,
        "credit_code": str(account.get("credit_code", "") or ""),
        "relationships": len(account.get("relationships") or []),
    }


def account_line(account: Mapping[str, Any], lang: str = "zh") -> str:
    """个人登录 · 张* / 单位登录 · 法定代表人 · 甲公司（9123…）."""
    view = account_view(account, lang)
    parts = (
        [view["group_label"]]
        if view["role"] == "personal"
        else [view["group_label"], view["role_label"]]
    )
    if view["company"] or view["credit_code"]:
        code = f"（{view['credit_code']}）" if view["credit_code"] else ""
        parts.append(f"{view['company']}{code}")
    return " · ".join(parts)


def time_text(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def portal_name(client: Mapping[str, Any], lang: str = "zh") -> str:
    name = client.get("name")
    if isinstance(name, Mapping):
        return str(
            name.get("en" if lang == "en" else "zh") or name.get("zh") or client.get("id", "")
        )
    return str(name or client.get("id", ""))


# The claims the broker says it will release (its scan answer's `claims`), as the person reads
# them; claims that say one thing under several names share a label and are shown once.
CLAIM_LABELS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "name"),
    "id_number": ("社会保障号码", "social security number"),
    "phone_number": ("手机号码", "mobile number"),
    "role": ("登录身份", "login role"),
    "company": ("单位名称及统一社会信用代码", "company name and credit code"),
    "relationships": ("单位授权信息", "company authorizations"),
    "business_items": ("单位授权信息", "company authorizations"),
    "unit_numbers": ("单位授权信息", "company authorizations"),
}


def claim_labels(claims: list[str], lang: str = "zh") -> list[str]:
    """姓名、社会保障号码… in the broker's order, each label once; unknown names as sent."""
    labels = [pick(CLAIM_LABELS.get(c, (c, c)), lang) for c in claims]
    return list(dict.fromkeys(labels))


def release_line(client: Mapping[str, Any], claims: list[str], lang: str = "zh") -> str:
    """将向“人社网上服务大厅”提供：姓名、社会保障号码 — what confirming gives to whom."""
    portal = portal_name(client, lang)
    labels = claim_labels(claims, lang)
    if lang == "en":
        given = ", ".join(labels) if labels else "an anonymous user identifier only"
        return f"“{portal}” will receive: {given}"
    return f"将向“{portal}”提供：{'、'.join(labels) if labels else '匿名用户标识（不含个人信息）'}"


def place_warning(browser_place: str, phone_place: str, lang: str = "zh") -> str:
    if lang == "en":
        return (
            f"The browser appears to be in {browser_place or 'an unknown place'}, but this phone "
            f"is in {phone_place}. Confirm only if you started this login yourself."
        )
    return (
        f"登录的电脑位于“{browser_place or '未知地点'}”，与本手机所在地“{phone_place}”不一致。"
        "如非本人操作，请点击取消！"
    )


# The broker describes places and browsers in Chinese only; English screens translate the few
# fixed words it uses (authsvc/core/useragent.py) and leave everything else as sent.
BROKER_WORDS_EN = {
    "本机": "this computer",
    "内部网络": "internal network",
    "未知地点": "unknown place",
    "未知浏览器": "unknown browser",
    "未知系统": "unknown OS",
}


def broker_word(text: str, lang: str) -> str:
    return BROKER_WORDS_EN.get(text, text) if lang == "en" else text


def scan_view(result: Any, phone_place: str, lang: str = "zh") -> dict[str, Any]:
    """A ScanResult as the screens show it."""
    browser = {k: broker_word(str(v), lang) for k, v in result.browser.items()}
    return {
        "ticket_id": result.ticket_id,
        "portal": portal_name(result.client, lang),
        "identity": pick(IDENTITIES.get(result.identity, (result.identity, result.identity)), lang),
        "ip": str(browser.get("ip", "")),
        "place": str(browser.get("place", "")),
        "browser": str(browser.get("browser", "")),
        "os": str(browser.get("os", "")),
        "requested_at": time_text(result.requested_at),
        "expires_at": result.expires_at,
        "place_warning": place_warning(str(browser.get("place", "")), phone_place, lang)
        if result.place_warning
        else "",
        "accounts": [account_view(a, lang) for a in result.accounts],
        "face": dict(result.face),
        "claims": claim_labels(list(result.claims), lang),
        "release": release_line(result.client, list(result.claims), lang),
    }


def certificate_lines(cert: Any, lang: str = "zh") -> list[str]:
    """What a verified certificate certifies, line by line."""
    en = lang == "en"
    lines = [
        (f"Verified: {cert.title_en}" if en else f"验证通过：{cert.title_zh}"),
        (f"Number: {cert.serial}" if en else f"证明编号：{cert.serial}"),
    ]
    if cert.holder_name or cert.holder_id:
        holder = cert.holder_name + (f"（{cert.holder_id}）" if cert.holder_id else "")
        lines.append(f"Holder: {holder}" if en else f"证明对象：{holder}")
    lines += [
        f"{f.label_en if en else f.label_zh}: {f.value}" if en else f"{f.label_zh}：{f.value}"
        for f in cert.facts
    ]
    lines.append(f"Issued by: {cert.issuer}" if en else f"出具单位：{cert.issuer}")
    lines.append(
        f"Issued: {time_text(cert.issued_at)}" if en else f"出具时间：{time_text(cert.issued_at)}"
    )
    lines.append(
        f"Valid until (exp): {time_text(cert.expires_at)}"
        if en
        else f"有效期至（exp）：{time_text(cert.expires_at)}"
    )
    return lines
