"""The event log as outbox: nothing missed when commits come out of order,
nothing created twice when events are read twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from kycd.db import Database, utcnow
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.webhooks.models import WebhookDelivery, WebhookOutboxCursor
from kycd.webhooks.outbox import GAP_GRACE, fan_out
from webhook_harness import Receiver, Rounds, emit, register

CHECK = {"id": "chk-1", "user_id": "u-1", "type": "KYC", "status": "PASSED"}


def _cursor(database: Database) -> WebhookOutboxCursor:
    with database.session() as db:
        return db.scalars(select(WebhookOutboxCursor)).one()


def test_an_event_committed_after_a_later_one_is_still_delivered(
    api: Any, creds: Any, database: Database, backend: str, receiver: Receiver, rounds: Rounds
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: events commit in seq order")
    register(api, receiver)
    slow = database.session()
    early = record_event(
        slow, RequestContext(creds.tenant_id, "sandbox"), "USER_CHECK.PASSED", payload=CHECK
    )
    slow.flush()  # seq drawn, not yet committed
    late = emit(database, creds.tenant_id, "USER_CHECK.FAILED", CHECK)
    rounds.run(utcnow())
    assert [p.json["id"] for p in receiver.posts()] == [late]
    assert str(early.seq) in _cursor(database).gaps
    slow.commit()
    slow.close()
    rounds.run(utcnow())
    assert [p.json["id"] for p in receiver.posts()] == [late, early.id]
    assert _cursor(database).gaps == {}


def test_a_hole_left_by_a_rollback_is_given_up_after_the_grace_period(
    api: Any, creds: Any, database: Database, backend: str, receiver: Receiver, rounds: Rounds
) -> None:
    if backend != "postgresql":
        pytest.skip("only PostgreSQL sequences leave holes")
    register(api, receiver)
    with database.session() as aborted:
        record_event(aborted, RequestContext(creds.tenant_id, "sandbox"), "USER_CHECK.PASSED")
        aborted.flush()
        aborted.rollback()
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    now = utcnow()
    rounds.run(now)
    assert len(_cursor(database).gaps) == 1
    rounds.run(now + GAP_GRACE + timedelta(seconds=1))
    assert _cursor(database).gaps == {}


def test_reading_events_twice_creates_each_delivery_once(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    register(api, receiver)
    for _ in range(3):
        emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    fan_out(database, utcnow())
    with database.transaction() as db:
        db.execute(update(WebhookOutboxCursor).values(last_seq=0))
    fan_out(database, utcnow())
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 3
    rounds.run(utcnow())
    assert len(receiver.posts()) == 3


def test_a_full_batch_is_followed_at_once_by_the_next(
    api: Any, creds: Any, database: Database, receiver: Receiver
) -> None:
    register(api, receiver)
    fan_out(database, utcnow())  # past the credential's and endpoint's own events
    for _ in range(5):
        emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    assert fan_out(database, utcnow(), batch_size=3) == 3
    assert fan_out(database, utcnow(), batch_size=3) == 2
    assert fan_out(database, utcnow(), batch_size=3) == 0
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 5
