"""Fan-out: turn new events of the log into deliveries, one per subscribed endpoint.

Other domains only call ``record_event``; the event row, committed with their
change, is the outbox. The worker (not the request) reads the log after a
cursor and creates the deliveries, for three reasons: a write request pays
nothing for webhooks; an endpoint registered or changed takes effect without
any cache to invalidate; and one worker pass creates many deliveries in one
statement. A delivery is unique per (endpoint, event), so reading an event
twice creates nothing twice.

Reading "after a cursor" needs care on PostgreSQL, where seq is drawn at
insert but visible at commit: a long transaction may commit seq 10 after seq 11
was read. Every hole below the cursor is remembered and re-read each pass until
its event appears, or for :data:`GAP_GRACE` (a rolled-back transaction leaves a
hole that never fills). SQLite has one writer at a time, so it has no holes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kycd.db import Database, is_postgres, new_id
from kycd.events.models import Event
from kycd.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookOutboxCursor
from kycd.webhooks.rules import (
    DeliveryStatus,
    EndpointStatus,
    EventData,
    encode_body,
    render_body,
    rfc3339,
    wants_event,
)

CURSOR_ID = "events"
# Longest a transaction may hold an uncommitted event and still have it fanned out.
GAP_GRACE = timedelta(minutes=10)
# More missing seqs in one run than transactions can be in flight at once means
# the log was truncated or the sequence jumped, not that commits are pending.
MAX_GAP_RUN = 1000
MAX_GAPS = 10_000
BATCH_SIZE = 500


def dialect_insert(db: Session, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    if is_postgres(db):
        return postgresql.insert(model)
    return sqlite.insert(model)


def _lock_cursor(db: Session, now: datetime) -> WebhookOutboxCursor | None:
    """The cursor row, locked for this transaction; None when another worker is
    fanning out right now (PostgreSQL). SQLite's write lock serialises passes."""
    stmt = select(WebhookOutboxCursor).where(WebhookOutboxCursor.id == CURSOR_ID)
    if is_postgres(db):
        stmt = stmt.with_for_update(skip_locked=True)
    cursor = db.scalars(stmt).first()
    if cursor is None:
        db.execute(
            dialect_insert(db, WebhookOutboxCursor)
            .values(id=CURSOR_ID, last_seq=0, gaps={}, updated_at=now)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        cursor = db.scalars(stmt).first()
    return cursor


def _open_gaps(
    gaps: dict[str, Any], last_seq: int, events: Sequence[Event], now: datetime
) -> dict[str, Any]:
    seen_at = rfc3339(now)
    previous = last_seq
    for event in events:
        missing = event.seq - previous - 1
        # A fresh cursor (0) has no holes below the first event it reads.
        if previous > 0 and 0 < missing <= MAX_GAP_RUN:
            for seq in range(previous + 1, event.seq):
                gaps.setdefault(str(seq), seen_at)
        previous = event.seq
    if len(gaps) > MAX_GAPS:
        keep = sorted(gaps, key=int)[-MAX_GAPS:]
        gaps = {seq: gaps[seq] for seq in keep}
    return gaps


def _expire_gaps(gaps: dict[str, Any], now: datetime) -> dict[str, Any]:
    cutoff = now - GAP_GRACE
    return {seq: at for seq, at in gaps.items() if datetime.fromisoformat(at) >= cutoff}


def create_deliveries(db: Session, events: Sequence[Event], now: datetime) -> int:
    if not events:
        return 0
    tenants = {e.tenant_id for e in events}
    endpoints = db.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.status == EndpointStatus.ENABLED.value,
            WebhookEndpoint.tenant_id.in_(tenants),
        )
    ).all()
    by_scope: dict[tuple[str, str], list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_scope[(endpoint.tenant_id, endpoint.environment)].append(endpoint)
    rows: list[dict[str, Any]] = []
    for event in events:
        data = EventData(event.id, event.type, event.created_at, event.payload)
        for endpoint in by_scope.get((event.tenant_id, event.environment), ()):
            if not wants_event(
                endpoint.event_types, endpoint.created_at, event.type, event.created_at
            ):
                continue
            rows.append(
                {
                    "id": new_id(),
                    "tenant_id": event.tenant_id,
                    "environment": event.environment,
                    "endpoint_id": endpoint.id,
                    "event_id": event.id,
                    "event_seq": event.seq,
                    "event_type": event.type,
                    "event_created_at": event.created_at,
                    "body": encode_body(render_body(data, endpoint.id)),
                    "status": DeliveryStatus.PENDING.value,
                    "attempt_count": 0,
                    "failed_in_row": 0,
                    "manual_request": False,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if rows:
        db.execute(
            dialect_insert(db, WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        )
    return len(rows)


def has_new_events(database: Database) -> bool:
    """Whether a fan-out pass has work, by a read-only look: an idle worker
    polls often, and on SQLite a write transaction would take the database's
    single write lock from API writers each time."""
    with database.session(read_only=True) as db:
        cursor = db.execute(
            select(WebhookOutboxCursor.last_seq, WebhookOutboxCursor.gaps).where(
                WebhookOutboxCursor.id == CURSOR_ID
            )
        ).first()
        if cursor is None or cursor.gaps:
            return True
        newest = db.scalar(select(func.max(Event.seq)))
        return newest is not None and newest > cursor.last_seq


def fan_out_in(db: Session, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """One pass over the log after the cursor, in the caller's transaction."""
    cursor = _lock_cursor(db, now)
    if cursor is None:
        return 0
    gaps = _expire_gaps(dict(cursor.gaps or {}), now)
    filled: Sequence[Event] = []
    if gaps:
        filled = db.scalars(select(Event).where(Event.seq.in_([int(s) for s in gaps]))).all()
        for event in filled:
            gaps.pop(str(event.seq), None)
    events = db.scalars(
        select(Event).where(Event.seq > cursor.last_seq).order_by(Event.seq).limit(batch_size)
    ).all()
    gaps = _open_gaps(gaps, cursor.last_seq, events, now)
    create_deliveries(db, [*filled, *events], now)
    if events or filled or gaps != cursor.gaps:
        if events:
            cursor.last_seq = events[-1].seq
        cursor.gaps = gaps
        cursor.updated_at = now
    return len(events)


def fan_out(database: Database, now: datetime, *, batch_size: int = BATCH_SIZE) -> int:
    """One pass over the log after the cursor. Returns how many events were read
    (a full batch means: call again at once)."""
    if not has_new_events(database):
        return 0
    with database.transaction() as db:
        return fan_out_in(db, now, batch_size)
