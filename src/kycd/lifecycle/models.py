from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, TenantScopedMixin, utcnow


class ClientLifecycle(TenantScopedMixin, Base):
    """What seed 001 adds to a customer: the KYC verification level it passed and
    the business dates of its lifecycle commands (Fineract's timeline).

    One row per customer, created on first use, so customers created through any
    surface take part in the lifecycle. The status itself stays on the customer.
    """

    __tablename__ = "client_lifecycle"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    # PARTIAL or FULL once verified; cleared when the client returns to Pending.
    kyc_verification_type: Mapped[str | None] = mapped_column(String(16), default=None)
    submitted_on: Mapped[date | None] = mapped_column(default=None)
    verified_on: Mapped[date | None] = mapped_column(default=None)
    activated_on: Mapped[date | None] = mapped_column(default=None)
    rejected_on: Mapped[date | None] = mapped_column(default=None)
    withdrawn_on: Mapped[date | None] = mapped_column(default=None)
    closed_on: Mapped[date | None] = mapped_column(default=None)
    reactivated_on: Mapped[date | None] = mapped_column(default=None)
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    email_verification_method: Mapped[str | None] = mapped_column(String(32), default=None)
    mobile_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    mobile_verification_method: Mapped[str | None] = mapped_column(String(32), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
