"""Recording events, and the in-process subscribers that react to them.

``record_event`` appends to the log in the caller's transaction. Domains that
must react to another domain's changes in the same transaction (risk is
recalculated when a profile changes, the compliance projection is refreshed
when a step is decided) subscribe to event types instead of being called by
the domain that changed: the writer does not need to know its readers.

Subscriber modules are listed in :data:`SUBSCRIBER_MODULES` and imported on
first use; each calls :func:`subscribe` at import time. A handler runs inside
the writer's transaction, so whatever it writes commits or rolls back with the
change. Handlers may record events themselves; they must not loop.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kycd.db import utcnow
from kycd.events.models import Event
from kycd.tenancy.context import RequestContext

EventHandler = Callable[[Session, RequestContext, Event], None]

# Modules that subscribe handlers at import time. Add a domain's here.
SUBSCRIBER_MODULES: tuple[str, ...] = (
    "kycd.risk.subscribers",
    "kycd.checks.subscribers",
    "kycd.compliance.subscribers",
)

_handlers: dict[str, list[EventHandler]] = {}
_loaded = False


def subscribe(event_types: Iterable[str], handler: EventHandler) -> None:
    for event_type in event_types:
        handlers = _handlers.setdefault(event_type, [])
        if handler not in handlers:
            handlers.append(handler)


def _load_subscribers() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in SUBSCRIBER_MODULES:
            importlib.import_module(module)


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
    _load_subscribers()
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
    for handler in _handlers.get(event_type, ()):
        handler(db, ctx, event)
    return event
