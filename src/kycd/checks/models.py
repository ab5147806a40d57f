from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kycd.checks.outcome import CheckStatus
from kycd.db import Base, TenantScopedMixin, new_id, utcnow


class UserCheck(TenantScopedMixin, Base):
    """A provider's check result for one customer (seed 004's "user check").

    The fields of all four types live in one table; each type fills its own.
    The evidence columns describe the file fetched from ``data_download_link``
    and the attempts to fetch it; ``lease_*`` is a worker's claim on the row.
    """

    __tablename__ = "user_checks"
    __table_args__ = (
        Index("ix_user_checks_customer", "tenant_id", "environment", "customer_id", "created_at"),
        # The worker's two queries: due fetches and validated checks to decide.
        Index("ix_user_checks_work", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default=CheckStatus.ACCEPTED.value)
    failure_reason: Mapped[str | None] = mapped_column(String(40), default=None)

    check_confirmed_at: Mapped[datetime] = mapped_column()
    provider: Mapped[str | None] = mapped_column(String(200), default=None)
    method: Mapped[str | None] = mapped_column(String(100), default=None)
    document_type: Mapped[str | None] = mapped_column(String(100), default=None)
    document_expiration_date: Mapped[date | None] = mapped_column(default=None)
    issuance_date: Mapped[date | None] = mapped_column(default=None)
    nationality: Mapped[str | None] = mapped_column(String(2), default=None)
    data_download_link: Mapped[str | None] = mapped_column(Text, default=None)
    confirmed_address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    suitability: Mapped[bool | None] = mapped_column(Boolean, default=None)
    kyc_update: Mapped[bool] = mapped_column(Boolean, default=False)

    evidence_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    evidence_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    evidence_fetched_at: Mapped[datetime | None] = mapped_column(default=None)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_token: Mapped[str | None] = mapped_column(String(36), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)

    # Bumped by every change of state, so a stale writer's guarded UPDATE misses.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
