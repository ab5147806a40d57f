"""Webhook endpoints, the deliveries owed to them, and every attempt made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, JSONType, TenantScopedMixin, new_id, utcnow
from kycd.webhooks.rules import DeliveryStatus, EndpointStatus


class WebhookEndpoint(TenantScopedMixin, Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_scope", "tenant_id", "environment", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=EndpointStatus.ENABLED.value)
    disabled_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Signing secrets, sealed (see kycd.webhooks.signing.SecretBox).
    secret_sealed: Mapped[str] = mapped_column(String(200))
    previous_secret_sealed: Mapped[str | None] = mapped_column(String(200), default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Start of the current run of failed attempts; cleared by any success.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(TenantScopedMixin, Base):
    """One event owed to one endpoint. Its id is the ``webhook-id`` header, the
    same on every attempt, so receivers can use it as their idempotency key."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(80))
    event_created_at: Mapped[datetime] = mapped_column()
    # The exact bytes signed and sent, rendered once.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # Consecutive failures since the schedule (re)started; picks the next delay.
    failed_in_row: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set while a worker holds the delivery; the claim expires at next_attempt_at.
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    # The next attempt was asked for by the tenant (redelivery), not the schedule.
    manual_request: Mapped[bool] = mapped_column(default=False)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttempt(TenantScopedMixin, Base):
    """One HTTP request to an endpoint. The response body is never stored."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(300), default=None)


class WebhookOutboxCursor(Base):
    """How far the worker has read the event log, and the holes it still watches.

    On PostgreSQL an event's ``seq`` is taken when it is inserted but becomes
    visible when its transaction commits, so seq 11 may be read before seq 10
    commits. The hole at 10 is remembered and re-read until it fills or is old
    enough to be a rolled-back transaction (see kycd.webhooks.outbox)."""

    __tablename__ = "webhook_outbox_cursor"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # {"<seq>": "<first seen, RFC 3339>"}
    gaps: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
