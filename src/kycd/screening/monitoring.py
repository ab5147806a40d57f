"""Re-screening monitored customers after a list import.

Each import leaves a :class:`RescreenTask`. It is worked through in batches
of customers (ordered by id): a full version screens every monitored customer
against the whole list; a delta screens them only against the entities it
added or changed (deleted ones were withdrawn when the delta was imported).
The worker runs batches as a periodic job; ``kycd watchlist import`` runs the
task to completion itself unless told not to.

Each batch is one transaction that ends with a guarded update of the task's
cursor (``WHERE cursor = :seen``): when two workers take the same batch, one
commits and the other rolls back, so no customer is screened twice into
duplicate hits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update

from kycd.customers.models import Customer
from kycd.db import Database, utcnow
from kycd.errors import Conflict
from kycd.screening.index import ListView
from kycd.screening.lists import SHARDS, open_changes, open_view
from kycd.screening.models import (
    Hit,
    ListVersion,
    Monitor,
    RescreenTask,
    TaskStatus,
    VersionKind,
    Watchlist,
)
from kycd.screening.service import screen_customer, tenant_threshold
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scoped

BATCH_SIZE = 500


def _context(task: RescreenTask) -> RequestContext:
    return RequestContext(
        task.tenant_id, task.environment, actor_type="system", actor_id="screening-monitor"
    )


def run_batch(
    database: Database, settings: Settings, task_id: str, batch_size: int = BATCH_SIZE
) -> int:
    """Screen the next batch of a task's customers; returns how many (0 when done)."""
    with database.transaction() as db:
        task = db.get(RescreenTask, task_id)
        if task is None or task.status != TaskStatus.PENDING.value:
            return 0
        ctx = _context(task)
        watchlist = db.get(Watchlist, task.watchlist_id)
        version = db.get(ListVersion, task.list_version_id)
        if watchlist is None or version is None:
            task.status = TaskStatus.DONE.value
            return 0
        if version.kind == VersionKind.FULL.value and watchlist.current_version_id != version.id:
            # A newer version was imported; its own task screens everyone.
            _finish(db, task)
            return 0
        view: ListView
        scope: set[str] | None = None
        if version.kind == VersionKind.DELTA.value:
            view = open_changes(settings, version)
            scope = {r["id"] for r in view.records()}
            if not scope:
                _finish(db, task)
                return 0
        else:
            view = open_view(settings, version)
        customers = list(
            db.scalars(
                scoped(Customer, ctx)
                .join(Monitor, Monitor.customer_id == Customer.id)
                .where(
                    Monitor.enabled.is_(True),
                    Customer.id > task.cursor,
                    Customer.id < task.shard_end,
                )
                .order_by(Customer.id)
                .limit(batch_size)
            )
        )
        if not customers:
            _finish(db, task)
            return 0
        ids = [c.id for c in customers]
        existing: dict[str, list[Hit]] = defaultdict(list)
        for hit in db.scalars(
            scoped(Hit, ctx).where(Hit.customer_id.in_(ids), Hit.watchlist_id == watchlist.id)
        ):
            existing[hit.customer_id].append(hit)
        threshold = tenant_threshold(db, ctx)
        created = 0
        now = utcnow()
        for customer in customers:
            result = screen_customer(
                db,
                ctx,
                settings,
                customer,
                [(watchlist, version)],
                threshold=threshold,
                existing=existing.get(customer.id, []),
                view_of={version.id: view},
                scope=scope,
            )
            created += result.created
        db.execute(
            update(Monitor)
            .where(Monitor.customer_id.in_(ids), Monitor.tenant_id == ctx.tenant_id)
            .values(last_screened_at=now)
            .execution_options(synchronize_session=False)
        )
        advanced = db.execute(
            update(RescreenTask)
            .where(RescreenTask.id == task.id, RescreenTask.cursor == task.cursor)
            .values(
                cursor=ids[-1],
                processed=RescreenTask.processed + len(ids),
                hits_created=RescreenTask.hits_created + created,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(advanced, "rowcount", 0) != 1:
            raise Conflict("another worker screened this batch", "rescreen_conflict")
        return len(ids)


def _finish(db: object, task: RescreenTask) -> None:
    task.status = TaskStatus.DONE.value
    task.finished_at = utcnow()


def run_task(
    database: Database,
    settings: Settings,
    task_id: str,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> None:
    while True:
        try:
            done = run_batch(database, settings, task_id, batch_size)
        except Conflict:
            continue
        if done == 0:
            return
        if progress is not None:
            progress(done)


def monitored_count(database: Database, ctx: RequestContext) -> int:
    from sqlalchemy import func

    with database.session(read_only=True) as db:
        stmt = scoped(Monitor, ctx).where(Monitor.enabled.is_(True))
        return db.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def tasks_for_version(database: Database, version_id: str) -> list[str]:
    with database.session(read_only=True) as db:
        return list(
            db.scalars(select(RescreenTask.id).where(RescreenTask.list_version_id == version_id))
        )


def run_pending(database: Database, settings: Settings, now: datetime) -> int:
    """The worker's periodic job: one batch of the oldest pending task.
    Closing a task counts as work done, so the worker comes back at once for
    the next one."""
    with database.session(read_only=True) as db:
        oldest = list(
            db.scalars(
                select(RescreenTask.id)
                .where(RescreenTask.status == TaskStatus.PENDING.value)
                .order_by(RescreenTask.created_at)
                .limit(len(SHARDS))
            )
        )
    if not oldest:
        return 0
    # Workers pick different shards of the oldest import, mostly.
    task_id = random.choice(oldest)
    try:
        return max(run_batch(database, settings, task_id), 1)
    except Conflict:
        return 0
