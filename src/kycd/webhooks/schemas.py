"""Webhook endpoints API bodies (snake_case, like the Customers API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kycd.webhooks.rules import EndpointStatus

# An exact type, "family.*", or "*" (everything but admin.*).
EventType = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^(\*|[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,77}(\.\*)?)$"
    ),
]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
MAX_GRACE_SECONDS = 7 * 24 * 3600


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EndpointCreate(StrictModel):
    url: Url
    event_types: list[EventType] = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)


class EndpointUpdate(StrictModel):
    """PATCH body: only the fields sent change. ``status`` enables or disables."""

    url: Url | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    status: EndpointStatus | None = None


class SecretRotation(StrictModel):
    # How long the old secret keeps signing beside the new one.
    grace_period_seconds: int = Field(default=24 * 3600, ge=0, le=MAX_GRACE_SECONDS)


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str
    event_types: list[str]
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    """Returned at registration and rotation only: the secret is shown once."""

    secret: str


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    delivery_id: str
    number: int
    trigger: str
    outcome: str
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    latency_ms: int | None
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    webhook_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any]
    attempts: list[AttemptOut]
