"""The compliance projection: the last evaluated status of each customer.

It is a change detector, not the source of truth: every status read evaluates
the policy afresh (time alone can change the answer) and compares it with this
row; a difference is recorded as a ``compliance.status_changed`` event and the
row is moved on. Writes of other domains refresh it through an event subscriber.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, TenantScopedMixin, utcnow


class ComplianceProjection(TenantScopedMixin, Base):
    __tablename__ = "compliance_status"
    __table_args__ = (Index("ix_compliance_status_evaluated", "evaluated_at"),)

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    is_compliant: Mapped[bool] = mapped_column(Boolean)
    onboarding_status: Mapped[str | None] = mapped_column(String(32), default=None)
    next_action: Mapped[str] = mapped_column(String(32))
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)
