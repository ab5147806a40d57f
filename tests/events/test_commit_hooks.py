"""Per-customer work at commit: once per customer, in order, rolled back with the write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from conftest import Api
from factories import customer_payload
from kycd.db import Database
from kycd.events import commit_hooks
from kycd.events.commit_hooks import Noted, per_customer_at_commit
from kycd.events.service import _handlers, record_event
from kycd.tenancy.context import RequestContext

CTX = RequestContext("tenant-1", "sandbox")
Calls = list[tuple[str, dict[str, list[str]]]]


@pytest.fixture
def calls() -> Iterator[Calls]:
    """Two hooks: ``early`` (order 1) and ``late`` (order 2); ``late`` notes
    customer c9 for ``early`` once, the way risk's events note compliance."""
    seen: Calls = []

    def handler(name: str):  # type: ignore[no-untyped-def]
        def handle(db: Session, noted: dict[str, Noted]) -> None:
            seen.append((name, {c: n.event_types for c, n in noted.items()}))
            if name == "late" and "c9" not in str(seen[:-1]):
                record_event(db, CTX, "test.early", customer_id="c9")

        return handle

    per_customer_at_commit("test.late", ["test.late"], order=2, handle=handler("late"))
    per_customer_at_commit(
        "test.early", ["test.early", "test.both"], order=1, handle=handler("early")
    )
    try:
        yield seen
    finally:
        commit_hooks._hooks[:] = [h for h in commit_hooks._hooks if not h.name.startswith("test.")]
        for event_type in ("test.late", "test.early", "test.both"):
            _handlers.pop(event_type, None)


def test_hooks_run_once_per_customer_in_their_order(database: Database, calls: Calls) -> None:
    with database.transaction() as db:
        record_event(db, CTX, "test.late", customer_id="c1")
        record_event(db, CTX, "test.both", customer_id="c1")
        record_event(db, CTX, "test.early", customer_id="c1")
        record_event(db, CTX, "test.early", customer_id="c2")
        record_event(db, CTX, "test.early")  # no customer: nothing to do
        assert calls == []  # nothing runs before the commit
    assert calls == [
        ("early", {"c1": ["test.both", "test.early"], "c2": ["test.early"]}),
        ("late", {"c1": ["test.late"]}),
        # What the late hook recorded noted a customer for the early one.
        ("early", {"c9": ["test.early"]}),
    ]


def test_a_rolled_back_write_runs_nothing(database: Database, calls: Calls) -> None:
    with database.session() as db:
        record_event(db, CTX, "test.early", customer_id="c1")
        db.rollback()
        db.commit()
    assert calls == []


def test_a_released_savepoint_waits_for_the_writer(database: Database, calls: Calls) -> None:
    with database.transaction() as db:
        with db.begin_nested():
            record_event(db, CTX, "test.early", customer_id="c1")
        assert calls == []
    assert calls == [("early", {"c1": ["test.early"]})]


def test_by_context_groups_per_context_in_bounded_groups() -> None:
    """A hook reads a group with one parameter per customer: a delta that
    notes thousands must not exceed the databases' limits on parameters."""
    sandbox, production = RequestContext("t", "sandbox"), RequestContext("t", "production")
    noted = {f"c{n:04d}": Noted(sandbox) for n in range(1201)}
    noted["p1"] = Noted(production)
    groups = commit_hooks.by_context(noted)
    assert [(ctx.environment, len(group)) for ctx, group in groups] == [
        ("sandbox", commit_hooks.GROUP_SIZE),
        ("sandbox", commit_hooks.GROUP_SIZE),
        ("sandbox", 1201 - 2 * commit_hooks.GROUP_SIZE),
        ("production", 1),
    ]
    ids = [customer_id for _, group in groups for customer_id in group]
    assert ids == list(noted)  # each once, in the order noted


def test_the_hooks_of_one_commit_read_the_tenant_once(api: Api, database: Database) -> None:
    # Risk, organisation and compliance settings all live on the tenant row;
    # a customer's creation runs the risk and compliance hooks.
    tenant_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM tenants" in statement:
            tenant_reads.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert api.post("/v1/customers", json=customer_payload()).status_code == 201
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert len(tenant_reads) == 1, tenant_reads
