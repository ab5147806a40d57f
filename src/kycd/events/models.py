from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, BigIntPK, TenantScopedMixin, new_id, utcnow


class Event(TenantScopedMixin, Base):
    """One thing that happened, written in the same transaction as the change.

    ``seq`` orders events for readers that follow the log (the webhook worker);
    ``id`` is the stable identity handed to the outside world.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer_time", "tenant_id", "environment", "customer_id", "created_at"),
        Index("ix_events_type", "tenant_id", "environment", "type"),
    )

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    customer_id: Mapped[str | None] = mapped_column(String(36), default=None)
    type: Mapped[str] = mapped_column(String(80))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(80), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
