"""Operators, their browser sessions, and failed logins (for throttling)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, BigIntPK, TenantScopedMixin, new_id, utcnow


class Role(StrEnum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Operator(Base):
    """A person at the tenant who works in the console.

    An operator belongs to a tenant, not to an environment: the same account
    switches between sandbox and production data in the console.
    """

    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_operators_tenant_email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    # Stored lower-cased: addresses are compared case-insensitively at login.
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default=Role.VIEWER.value)
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class OperatorSession(Base):
    """A logged-in browser. Kept server-side so that logout, disabling an
    operator or changing their role takes effect at once."""

    __tablename__ = "operator_sessions"

    # SHA-256 of the cookie's token: a database dump does not hand out sessions.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    # The environment whose data the operator is looking at right now.
    environment: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LoginFailure(Base):
    """One failed password attempt, counted by the login throttle."""

    __tablename__ = "operator_login_failures"
    __table_args__ = (
        Index("ix_login_failures_account", "account_key", "created_at"),
        Index("ix_login_failures_ip", "ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # SHA-256 of "tenant\nemail": what was typed is not kept (people type passwords
    # into the e-mail field), yet attempts on one account are still counted together.
    account_key: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewAssignment(TenantScopedMixin, Base):
    """Who is working on a step of the review queue. One row per step at most:
    taking a step someone else holds is refused, so two operators never decide
    the same step unknowingly. The row outlives the decision (the queue lists
    only steps still awaiting a verdict) and is replaced when the step is
    taken again after a retry."""

    __tablename__ = "console_review_assignments"
    __table_args__ = (Index("ix_review_assignments_operator", "operator_id"),)

    # No foreign keys: verification steps and operators are created by migrations
    # on other branches of the foundation, whose order Alembic does not fix.
    # Neither is ever deleted (operators are disabled), so nothing dangles.
    step_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
