"""Roles of the hall, their limits and the modules each may open.

Seed 002 (Jiangsu slides, 总结): one legal representative per company; at most one
administrator (管理员), who may administer several companies; at most ten agents (经办人员).
Seed 000 §3.1.1: agents have no 修改资料 and no 授权登录 module in their user centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portal.errors import AdminLimitReached, AgentLimitReached, ModuleForbidden

MAX_ADMINS_PER_COMPANY = 1
MAX_AGENTS_PER_COMPANY = 10


class Role(StrEnum):
    PERSONAL = "personal"
    LEGAL_REP = "legal_rep"
    ADMIN = "admin"
    AGENT = "agent"
    STAFF = "staff"


class Identity(StrEnum):
    """What the browser asked for below the QR (法人扫码登录 / 办事员扫码登录 / 个人登录)."""

    PERSONAL = "personal"
    LEGAL_REP = "legal_rep"
    AGENT = "agent"


class Module(StrEnum):
    BASIC_INFO = "basic_info"  # 基本信息
    EDIT_PROFILE = "edit_profile"  # 修改资料
    AUTHORIZE = "authorize"  # 授权登录
    MY_BUSINESS = "my_business"  # 我的办件
    BATCH = "batch"  # 批量办理 (seed 003 批量增员/批量减员)
    CERTIFICATE = "certificate"  # 单位权益单 (seed 003 三、5)
    COUNTER = "counter"  # 窗口授权 (经办机构)
    REVIEW = "review"  # 业务审核 (经办机构)
    PERSONAL_INFO = "personal_info"  # 个人信息


@dataclass(frozen=True)
class ModuleInfo:
    module: Module
    zh: str
    en: str
    path: str


MODULES: dict[Module, ModuleInfo] = {
    m.module: m
    for m in (
        ModuleInfo(Module.BASIC_INFO, "基本信息", "Company details", "/uc/{code}"),
        ModuleInfo(Module.EDIT_PROFILE, "修改资料", "Edit details", "/uc/{code}/profile"),
        ModuleInfo(Module.AUTHORIZE, "授权登录", "Agent authorization", "/uc/{code}/agents"),
        ModuleInfo(Module.MY_BUSINESS, "我的办件", "My applications", "/uc/{code}/business"),
        ModuleInfo(Module.BATCH, "批量办理", "Batch filing", "/uc/{code}/batch"),
        ModuleInfo(
            Module.CERTIFICATE, "单位权益单", "Insurance certificate", "/uc/{code}/certificate"
        ),
        ModuleInfo(Module.PERSONAL_INFO, "个人信息", "My details", "/usercenter"),
        ModuleInfo(Module.COUNTER, "窗口授权", "Counter authorization", "/counter"),
        ModuleInfo(Module.REVIEW, "业务审核", "Review queue", "/review"),
    )
}

_DOCUMENTS = (Module.BATCH, Module.CERTIFICATE)
_BY_ROLE: dict[Role, tuple[Module, ...]] = {
    Role.LEGAL_REP: (
        Module.BASIC_INFO,
        Module.EDIT_PROFILE,
        Module.AUTHORIZE,
        Module.MY_BUSINESS,
        *_DOCUMENTS,
    ),
    Role.ADMIN: (
        Module.BASIC_INFO,
        Module.EDIT_PROFILE,
        Module.AUTHORIZE,
        Module.MY_BUSINESS,
        *_DOCUMENTS,
    ),
    Role.AGENT: (Module.BASIC_INFO, Module.MY_BUSINESS, *_DOCUMENTS),
    Role.PERSONAL: (Module.PERSONAL_INFO, Module.MY_BUSINESS),
    Role.STAFF: (Module.PERSONAL_INFO, Module.COUNTER, Module.REVIEW),
}


def modules_for(role: Role) -> tuple[Module, ...]:
    """The user-centre modules of `role`, in menu order (seed 000 §3.1.1 for agents)."""
    return _BY_ROLE[role]


def require_module(role: Role, module: Module) -> None:
    """Refuse (403 module_forbidden) when `role` has no `module`."""
    if module not in _BY_ROLE[role]:
        raise ModuleForbidden(f"{role} has no {module}")


def is_company_role(role: Role) -> bool:
    return role in (Role.LEGAL_REP, Role.ADMIN, Role.AGENT)


def check_can_add_agent(current_agents: int) -> None:
    """Seed 002: 法人（管理员）可添加最多10名经办人."""
    if current_agents >= MAX_AGENTS_PER_COMPANY:
        raise AgentLimitReached(f"{current_agents} agents")


def check_can_add_admin(current_admins: int) -> None:
    """Seed 002: 一个单位只能有一个法人、最多一个管理员."""
    if current_admins >= MAX_ADMINS_PER_COMPANY:
        raise AdminLimitReached(f"{current_admins} admins")


def account_key(role: Role, credit_code: str = "") -> str:
    """docs/api.md: `role:credit_code`, `personal:` for personal accounts."""
    return f"{role}:{credit_code}"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.LEGAL_REP: ("法定代表人", "Legal representative"),
    Role.ADMIN: ("管理员", "Administrator"),
    Role.AGENT: ("经办人", "Agent"),
    Role.PERSONAL: ("个人用户", "Personal user"),
    Role.STAFF: ("经办机构工作人员", "Agency staff"),
}
