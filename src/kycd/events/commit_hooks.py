"""Work a domain does once per customer when the writer's transaction commits.

Some reactions to events must not run at each event: one write often records
several (a re-screen records one ``screening.hit.created`` per hit; deciding
every step of a run records one event per step, then the approval), and
reacting to each would compute, store and report the half-done states in
between (and cost one recalculation per event). A domain registers a hook
instead (:func:`per_customer_at_commit`): its events note the customer, and
just before the transaction commits the hook runs once per noted customer,
inside the transaction, so what it writes commits with the change.

Hooks run in their ``order``, and a hook runs only when no hook before it has
anything left to do: screening decides the ``aml`` step (10), which risk reads
(20), whose level compliance reads (90). A hook's own events may note
customers for any hook; the loop goes on until none has work (bounded). A
transaction rolled back forgets what it noted; a savepoint released mid-write
runs nothing (the writer has not finished).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from kycd.events.models import Event
from kycd.events.service import subscribe
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant

log = logging.getLogger("kycd.events")

# More rounds than any chain of hooks needs; a loop past it is a bug.
MAX_RUNS = 100


@dataclass
class Noted:
    """A customer noted for a hook: the context of its first event, and the
    types of the events that noted it, in order of first appearance."""

    ctx: RequestContext
    event_types: list[str] = field(default_factory=list)


Handler = Callable[[Session, dict[str, Noted]], None]


# Customers per group of by_context: a delta that withdraws one entity's hits
# can note thousands of customers, and a group's reads bind one parameter per
# customer (SQLite allows 32,766 per statement, psycopg 65,535).
GROUP_SIZE = 500


def by_context(noted: dict[str, Noted]) -> list[tuple[RequestContext, dict[str, Noted]]]:
    """The noted customers grouped by the context of their first event, for a
    hook that reads a group at once (a re-screen notes a hundred), in groups
    of at most :data:`GROUP_SIZE`."""
    groups: dict[RequestContext, dict[str, Noted]] = {}
    for customer_id, entry in noted.items():
        groups.setdefault(entry.ctx, {})[customer_id] = entry
    return [
        (ctx, dict(items[start : start + GROUP_SIZE]))
        for ctx, group in groups.items()
        for items in [list(group.items())]
        for start in range(0, len(items), GROUP_SIZE)
    ]


@dataclass(frozen=True)
class _Hook:
    name: str
    order: int
    handle: Handler

    @property
    def key(self) -> str:
        return f"kycd.commit_hook.{self.name}"


_hooks: list[_Hook] = []


def per_customer_at_commit(
    name: str, event_types: Iterable[str], *, order: int, handle: Handler
) -> None:
    """Run ``handle`` once per customer noted by ``event_types`` (events with a
    customer id), when the writer's transaction commits."""
    hook = _Hook(name, order, handle)
    if any(h.name == name for h in _hooks):
        return  # a module imported twice registers once
    _hooks.append(hook)
    _hooks.sort(key=lambda h: h.order)

    def note(db: Session, ctx: RequestContext, event: Event) -> None:
        if event.customer_id is None:
            return
        noted: dict[str, Noted] = db.info.setdefault(hook.key, {})
        entry = noted.setdefault(event.customer_id, Noted(ctx))
        if event.type not in entry.event_types:
            entry.event_types.append(event.type)

    subscribe(event_types, note)


def _run_hooks(db: Session) -> None:
    if db.in_nested_transaction():
        return
    # Hooks read their tenant's settings (risk, organisation, compliance
    # policy) with db.get. The session's identity map holds rows weakly, so
    # each would query the tenant again unless it is held here meanwhile.
    tenants: dict[str, Tenant | None] = {}
    for _ in range(MAX_RUNS):
        hook = next((h for h in _hooks if db.info.get(h.key)), None)
        if hook is None:
            return
        noted: dict[str, Noted] = db.info.pop(hook.key)
        db.flush()  # the hook's queries see the writer's pending rows
        for entry in noted.values():
            if entry.ctx.tenant_id not in tenants:
                tenants[entry.ctx.tenant_id] = db.get(Tenant, entry.ctx.tenant_id)
        hook.handle(db, noted)
    log.error("commit hooks still had work after %d runs; committing without it", MAX_RUNS)


def _forget_noted(db: Session, previous: SessionTransaction) -> None:
    # A savepoint rolled back leaves the rest of the writer's changes standing:
    # running a hook for a customer whose change was undone only finds nothing new.
    if previous.parent is None:
        for hook in _hooks:
            db.info.pop(hook.key, None)


sa_event.listen(Session, "before_commit", _run_hooks)
sa_event.listen(Session, "after_soft_rollback", _forget_noted)
