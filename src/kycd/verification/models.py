from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, JSONType, TenantScopedMixin, new_id, utcnow
from kycd.verification.rollup import RunStatus
from kycd.verification.transitions import ReviewStatus

# A run's status is the roll-up of its steps (see kycd.verification.rollup).
SessionStatus = RunStatus


class VerificationSession(TenantScopedMixin, Base):
    __tablename__ = "verification_sessions"
    __table_args__ = (
        Index("ix_sessions_customer", "customer_id", "created_at"),
        # The expiry sweep looks for open runs past their deadline.
        Index("ix_sessions_status_expiry", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    level_name: Mapped[str] = mapped_column(String(100))
    # The tenant's level row the run was created from (the seed's ``levelId``).
    level_id: Mapped[str | None] = mapped_column(String(36), default=None)
    status: Mapped[str] = mapped_column(String(24), default=SessionStatus.CREATED.value)
    # SHA-256 of the hosted-flow token; the token itself is shown once, at creation.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    redirect_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class VerificationLevel(TenantScopedMixin, Base):
    """A tenant's level. Built-in defaults are copied in on first use, so every
    run points at a row (its ``levelId``)."""

    __tablename__ = "verification_levels"
    __table_args__ = (
        UniqueConstraint("tenant_id", "environment", "name", name="uq_verification_levels_name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    # [{"kind": "identity_doc", "optional": false}, ...], in the order shown to applicants.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    ttl_hours: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationStep(TenantScopedMixin, Base):
    """One step a run's level requires, created with the run."""

    __tablename__ = "verification_steps"
    __table_args__ = (UniqueConstraint("session_id", "kind", name="uq_verification_steps_kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("verification_sessions.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    optional: Mapped[bool] = mapped_column(Boolean, default=False)
    review_status: Mapped[str] = mapped_column(String(32), default=ReviewStatus.PENDING.value)
    review_answer: Mapped[str | None] = mapped_column(String(8), default=None)
    reject_type: Mapped[str | None] = mapped_column(String(8), default=None)
    reject_labels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Bumped by every transition: the guard of the guarded UPDATE.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
