"""SQLAlchemy 2 models. Keep in step with migrations/versions (a test compares them)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Person(Base):
    """A natural person known to the hall (personal account); staff carry their agency."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20), default="")
    staff_agency: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(256), default="")
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime)
    relationships: Mapped[list[InsuranceRelationship]] = relationship(
        back_populates="company", order_by="InsuranceRelationship.id", lazy="selectin"
    )
    legal_rep: Mapped[LegalRep | None] = relationship(lazy="selectin")


class InsuranceRelationship(Base):
    """参保关系: one unit number (单位编号) with one insurance type at one agency."""

    __tablename__ = "insurance_relationships"
    __table_args__ = (UniqueConstraint("company_id", "unit_no", "insurance_type"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    unit_no: Mapped[str] = mapped_column(String(32), index=True)
    insurance_type: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(128))
    company: Mapped[Company] = relationship(back_populates="relationships")


class LegalRep(Base):
    """The one legal representative (法定代表人) of a company."""

    __tablename__ = "legal_reps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Admin(Base):
    """At most one administrator (管理员) per company: company_id is unique."""

    __tablename__ = "admins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Agent(Base):
    """An agent (经办人/办事员) as the legal representative entered them."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("company_id", "id_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    relationship_grants: Mapped[list[RelationshipGrant]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )
    item_grants: Mapped[list[ItemGrant]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )


class RelationshipGrant(Base):
    """单位授权: an agent may act for one insurance relationship."""

    __tablename__ = "relationship_grants"
    __table_args__ = (UniqueConstraint("agent_id", "relationship_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    relationship_id: Mapped[int] = mapped_column(
        ForeignKey("insurance_relationships.id", ondelete="CASCADE")
    )
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    relationship: Mapped[InsuranceRelationship] = relationship(lazy="selectin")


class ItemGrant(Base):
    """A business item (业务事项) an agent may handle."""

    __tablename__ = "item_grants"
    __table_args__ = (UniqueConstraint("agent_id", "item_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    item_code: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CounterUpload(Base):
    """The signed authorization form uploaded at the counter (窗口授权)."""

    __tablename__ = "counter_uploads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    staff_id_number: Mapped[str] = mapped_column(String(18))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class SeenToken(Base):
    """A signed request already acted on (logout token, accounts request), kept until its `exp`
    so that a replay is refused (Back-Channel Logout §2.6 step 8; docs/api.md)."""

    __tablename__ = "seen_tokens"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of kind + jti
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class RateCounter(Base):
    """A fixed-window counter of attempts (e.g. 单位注册 per client address), shared by every
    portal process because it lives in the database."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the scope
    count: Mapped[int] = mapped_column(Integer)
    window_ends: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class AuditEntry(Base):
    """Who changed what, when. Actors are recorded masked (张*, 2301**********1236)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    company_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebSession(Base):
    """A browser session. `id` is the SHA-256 of the cookie's session id, never the id itself."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    op_sid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


Index("ix_web_sessions_op_sid", WebSession.op_sid)


# 办件 (applications): one business item filed for one company and one insurance relationship.


class Application(Base):
    """办件: one filing of one business item, holding its persons (rows) and attachments.

    `state` follows portal.rules.applications.State. `serial_no` (受理流水号) is given on
    submission and never repeats (seed 001 item 51). Receipts and certificates attach here.
    """

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial_no: Mapped[str | None] = mapped_column(String(24), unique=True, nullable=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    relationship_id: Mapped[int | None] = mapped_column(
        ForeignKey("insurance_relationships.id", ondelete="SET NULL"), nullable=True
    )
    item_code: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    unit_no: Mapped[str] = mapped_column(String(32))
    insurance_type: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(128), index=True)
    filer_role: Mapped[str] = mapped_column(String(16))
    filer_id_number: Mapped[str] = mapped_column(String(18), index=True)
    filer_name: Mapped[str] = mapped_column(String(64))
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reviewer_id_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    reviewer_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    return_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    refiled_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), nullable=True
    )
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    picked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    persons: Mapped[list[ApplicationPerson]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ApplicationPerson.seq",
    )
    attachments: Mapped[list[ApplicationAttachment]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ApplicationAttachment.id",
    )
    events: Mapped[list[ApplicationEvent]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ApplicationEvent.id",
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "version_id_col": version
    }  # lost race: StaleDataError


class ApplicationPerson(Base):
    """One person (row) of an application; a batch enrolment holds many. `data` keeps the
    item's per-person fields (start month, contribution base, …); `error_code` a row's result."""

    __tablename__ = "application_persons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(48), nullable=True)


class ApplicationAttachment(Base):
    """A required material (附件材料), type checked by its content; stored under a random name."""

    __tablename__ = "application_attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApplicationEvent(Base):
    """One step of the timeline: who moved the application to `state`, when, from which login."""

    __tablename__ = "application_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    action: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    login: Mapped[str] = mapped_column(String(32), default="")


class SerialCounter(Base):
    """受理流水号 counters, one row per Beijing day, bumped atomically (upsert … RETURNING)."""

    __tablename__ = "serial_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


# 核心业务系统 (simulated): see portal.coresys. Changed only when the agency approves.


class CorePerson(Base):
    """人员基础信息. The ID number is not unique: the core holds duplicates (seed 003 报错(4))."""

    __tablename__ = "core_persons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(64))
    hukou: Mapped[str] = mapped_column(String(16), default="")  # 户籍性质; "" is 为空
    flexible: Mapped[bool] = mapped_column(Boolean, default=False)  # 灵活就业参保人员
    phone: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CoreInsurance(Base):
    """One person's insurance relationship: a unit, an insurance type, a state, a start month."""

    __tablename__ = "core_insurances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("core_persons.id", ondelete="CASCADE"), index=True
    )
    unit_no: Mapped[str] = mapped_column(String(32), index=True)
    insurance_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # active | stopped
    start_month: Mapped[dt.date] = mapped_column(Date)
    end_month: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    base: Mapped[int] = mapped_column(Integer, default=0)  # 缴费基数, yuan


class CoreBenefit(Base):
    """失业金发放信息: an unemployment benefit paid to a person for one month."""

    __tablename__ = "core_benefits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("core_persons.id", ondelete="CASCADE"), index=True
    )
    month: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(Integer)


class CoreUnit(Base):
    """单位基本信息 as the core system keeps it (changed by 单位基本信息变更)."""

    __tablename__ = "core_units"
    unit_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    address: Mapped[str] = mapped_column(String(256), default="")
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class CoreChange(Base):
    """What one approved application changed, row by row, so 人员变更回退 can undo it."""

    __tablename__ = "core_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    target_table: Mapped[str] = mapped_column(String(32))
    row_key: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    reverted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


# 批量增员 / 批量减员 (portal/documents): one uploaded file and its per-row results.


class BatchFile(Base):
    """处理详情: an uploaded batch file, the application its valid rows became (none when no
    row passed), and every row's result (结果) — seed 003 三、1(1). `results` holds, per data
    row, its sheet row number, name, ID number, and either `ok` or the error's code and words."""

    __tablename__ = "batch_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    item_code: Mapped[str] = mapped_column(String(32))
    relationship_id: Mapped[int | None] = mapped_column(
        ForeignKey("insurance_relationships.id", ondelete="SET NULL"), nullable=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), nullable=True
    )
    original_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uploader_role: Mapped[str] = mapped_column(String(16))
    uploader_name: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    total: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
