from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, JSONType, TenantScopedMixin, new_id, utcnow


class RiskProfile(TenantScopedMixin, Base):
    """The current risk assessment of one customer; ``version`` counts its
    recalculations and guards concurrent ones."""

    __tablename__ = "risk_profiles"
    __table_args__ = (UniqueConstraint("customer_id", name="uq_risk_profiles_customer"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Digest of the rules and settings it was calculated with; the worker
    # recalculates profiles whose digest is no longer the tenant's current one.
    config_digest: Mapped[str] = mapped_column(String(64), default="", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(200))
    calculated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskProfileHistory(TenantScopedMixin, Base):
    """One recalculation: its result, the level it replaced, and what changed."""

    __tablename__ = "risk_profile_history"
    __table_args__ = (
        UniqueConstraint("customer_id", "version", name="uq_risk_history_version"),
        Index("ix_risk_history_customer", "customer_id", "calculated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    version: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))
    previous_score: Mapped[float | None] = mapped_column(Float, default=None)
    previous_level: Mapped[str | None] = mapped_column(String(8), default=None)
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    reason: Mapped[str] = mapped_column(String(200))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(80), default=None)
    calculated_at: Mapped[datetime] = mapped_column(default=utcnow)
