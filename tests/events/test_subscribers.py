from __future__ import annotations

from kycd.db import Database
from kycd.events.models import Event
from kycd.events.service import _handlers, record_event, subscribe
from kycd.tenancy.context import RequestContext


def test_subscribers_run_in_the_writers_transaction(database: Database) -> None:
    seen: list[str] = []

    def on_created(db, ctx, event):  # type: ignore[no-untyped-def]
        seen.append(event.type)
        record_event(db, ctx, "test.reaction", customer_id=event.customer_id)

    subscribe(["test.created"], on_created)
    ctx = RequestContext("tenant-1", "sandbox")
    try:
        with database.session() as db:
            record_event(db, ctx, "test.created", customer_id="c1")
            db.rollback()
        with database.transaction() as db:
            record_event(db, ctx, "test.created", customer_id="c2")
        with database.session() as db:
            types = [(e.customer_id, e.type) for e in db.query(Event).order_by(Event.seq)]
    finally:
        _handlers.pop("test.created")
    assert seen == ["test.created", "test.created"]
    # The rolled-back change took its reaction with it.
    assert types == [("c2", "test.created"), ("c2", "test.reaction")]
