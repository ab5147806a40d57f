from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kycd.db import utcnow
from kycd.events.models import Event
from kycd.tenancy.context import RequestContext


def record_event(
    db: Session,
    ctx: RequestContext,
    event_type: str,
    *,
    customer_id: str | None = None,
    payload: dict[str, Any] | None = None,
    actor_type: str | None = None,
    at: datetime | None = None,
) -> Event:
    """Append an event in the caller's transaction; it commits with the change."""
    event = Event(
        tenant_id=ctx.tenant_id,
        environment=ctx.environment,
        customer_id=customer_id,
        type=event_type,
        actor_type=actor_type or ctx.actor_type,
        actor_id=ctx.actor_id,
        payload=payload or {},
        created_at=at or utcnow(),
    )
    db.add(event)
    return event
