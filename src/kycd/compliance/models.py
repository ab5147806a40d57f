"""The compliance projection: the last evaluated status of each customer.

It serves two purposes:

* change detection: the state the last ``compliance.status_changed`` event
  reported (``is_compliant``, ``onboarding_status``, ``next_action``); whoever
  evaluates a different state moves the row on and records the event;
* the answer of the status read: ``data_json`` is the seed's ``data`` object as
  evaluated at ``evaluated_at``, good until ``valid_until`` (when time alone may
  change it) for the tenant policy whose fingerprint is ``policy_fingerprint``.
  Every write that changes a policy input refreshes the row in the writer's
  transaction (kycd.compliance.subscribers), so within those bounds the stored
  answer is exactly what the policy would say now.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, TenantScopedMixin, utcnow


class ComplianceProjection(TenantScopedMixin, Base):
    __tablename__ = "compliance_status"
    __table_args__ = (
        Index("ix_compliance_status_evaluated", "evaluated_at"),
        Index("ix_compliance_status_valid_until", "valid_until"),
    )

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    is_compliant: Mapped[bool] = mapped_column(Boolean)
    onboarding_status: Mapped[str | None] = mapped_column(String(32), default=None)
    next_action: Mapped[str] = mapped_column(String(32))
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # NULL on rows written before the stored answer existed: read as a miss.
    data_json: Mapped[str | None] = mapped_column(Text, default=None)
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    policy_fingerprint: Mapped[str | None] = mapped_column(String(16), default=None)
