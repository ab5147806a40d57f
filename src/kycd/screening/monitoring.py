"""Re-screening monitored customers after a list import.

Each import leaves a :class:`RescreenTask`. It is worked through in batches
of customers (ordered by id): a full version screens every monitored customer
against the whole list; a delta screens them only against the entities it
added or changed (deleted ones were withdrawn when the delta was imported).
The worker runs batches as a periodic job; ``kycd watchlist import`` runs the
task to completion itself unless told not to. A customer is screened with its
related parties, each reconciled on its own (kycd.screening.service).

A batch is screened in a read-only session (the CPU-heavy part holds no write
lock: SQLite has one writer at a time), then written in one short transaction
that ends with a guarded update of the task's cursor (``WHERE cursor =
:seen``): when two workers take the same batch, one commits and the other
rolls back, so no customer is screened twice into duplicate hits.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kycd.customers.models import Customer
from kycd.db import Database, is_postgres, utcnow
from kycd.errors import Conflict
from kycd.organization.models import RelatedParty
from kycd.screening.engine import Found, screen_view
from kycd.screening.index import ListView
from kycd.screening.lists import SHARDS, open_changes, open_view
from kycd.screening.matching import Subject
from kycd.screening.models import (
    Hit,
    ListVersion,
    Monitor,
    RescreenTask,
    TaskStatus,
    VersionKind,
    Watchlist,
)
from kycd.screening.service import (
    CUSTOMER_ITSELF,
    Target,
    reconcile,
    related_parties,
    subject_of_customer,
    subject_of_party,
    target_of,
    tenant_threshold,
)
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scoped

log = logging.getLogger("kycd.screening")

# Customers per batch. The hits of a batch are written in one transaction,
# which holds SQLite's only write lock for its length (about 2-5 ms per
# customer with the risk and compliance updates the hits cause): small enough
# that other writers (the API, a second worker) wait well under the 15 s busy
# timeout, large enough that a batch's fixed costs do not dominate.
BATCH_SIZE = 100
# A batch whose write could not take the lock is written again (it is already
# screened); past this many attempts in a row the task is left for later.
LOCKED_RETRIES = 5


def _context(task: RescreenTask) -> RequestContext:
    return RequestContext(
        task.tenant_id, task.environment, actor_type="system", actor_id="screening-monitor"
    )


@dataclass(frozen=True)
class _Screened:
    """One subject of a batch screened: a customer itself or one of its parties."""

    customer_id: str
    target: Target
    found: list[Found]
    # The party as it was screened (its updated_at), to tell at the write
    # whether it changed meanwhile.
    party_version: datetime | None = None


@dataclass
class _Plan:
    """A batch screened, waiting to be written."""

    ctx: RequestContext
    cursor: str
    customer_ids: list[str] = field(default_factory=list)
    screened: list[_Screened] = field(default_factory=list)
    scope: set[str] | None = None
    done: bool = False


def _screen_next(
    database: Database, settings: Settings, task_id: str, batch_size: int
) -> _Plan | None:
    """Screen the task's next customers in a read-only session: the CPU-heavy
    part holds no write lock (SQLite has one writer at a time)."""
    with database.session(read_only=True) as db:
        task = db.get(RescreenTask, task_id)
        if task is None or task.status != TaskStatus.PENDING.value:
            return None
        plan = _Plan(_context(task), task.cursor)
        watchlist = db.get(Watchlist, task.watchlist_id)
        version = db.get(ListVersion, task.list_version_id)
        if watchlist is None or version is None:
            plan.done = True
            return plan
        if version.kind == VersionKind.FULL.value and watchlist.current_version_id != version.id:
            # A newer version was imported; its own tasks screen everyone.
            plan.done = True
            return plan
        view: ListView
        if version.kind == VersionKind.DELTA.value:
            view = open_changes(settings, version)
            plan.scope = {r["id"] for r in view.records()}
            if not plan.scope:
                plan.done = True
                return plan
        else:
            view = open_view(settings, version)
        # Walked along the monitors' (tenant, environment, customer) index, in
        # its order: filtering and ordering on the customers' side made SQLite
        # scan every monitor and sort them, for each batch (0.6 s a batch with
        # 100,000 monitored customers, against 2 ms this way).
        customers = list(
            db.scalars(
                scoped(Customer, plan.ctx)
                .join(Monitor, Monitor.customer_id == Customer.id)
                .where(
                    Monitor.tenant_id == plan.ctx.tenant_id,
                    Monitor.environment == plan.ctx.environment,
                    Monitor.customer_id > task.cursor,
                    Monitor.customer_id < task.shard_end,
                    Monitor.enabled.is_(True),
                )
                .order_by(Monitor.customer_id)
                .limit(batch_size)
            )
        )
        if not customers:
            plan.done = True
            return plan
        threshold = tenant_threshold(db, plan.ctx)

        def found(subject: Subject | None) -> list[Found]:
            return screen_view(view, subject, threshold=threshold) if subject is not None else []

        parties = related_parties(db, plan.ctx, [c.id for c in customers])
        for customer in customers:
            plan.customer_ids.append(customer.id)
            subject = subject_of_customer(customer)
            plan.screened.append(_Screened(customer.id, CUSTOMER_ITSELF, found(subject)))
            for party in parties[customer.id]:
                target, subject = target_of(party), subject_of_party(party)
                plan.screened.append(
                    _Screened(customer.id, target, found(subject), party.updated_at)
                )
        return plan


def _current_party_versions(db: Session, ctx: RequestContext, plan: _Plan) -> dict[str, datetime]:
    """The batch's parties as they are now (id to updated_at); no query when
    the batch screened none (most customers are individuals)."""
    if all(s.target.party_id is None for s in plan.screened):
        return {}
    if is_postgres(db):
        # The organisation's writers lock the business's row before they add,
        # change or remove a party. A shared lock on it, held to the batch's
        # commit, makes one of the two wait for the other (in id order, as
        # batches lock): under READ COMMITTED a removal would otherwise miss
        # the hits the batch is writing and leave them active on a party that
        # no longer exists. SQLite's writer holds the only write lock already.
        owners = sorted({s.customer_id for s in plan.screened if s.target.party_id is not None})
        db.execute(
            scoped(Customer, ctx)
            .with_only_columns(Customer.id)
            .where(Customer.id.in_(owners))
            .order_by(Customer.id)
            .with_for_update(read=True)
        )
    stmt = (
        scoped(RelatedParty, ctx)
        .with_only_columns(RelatedParty.id, RelatedParty.updated_at)
        .where(RelatedParty.customer_id.in_(plan.customer_ids))
    )
    return {party_id: updated_at for party_id, updated_at in db.execute(stmt)}


def run_batch(
    database: Database, settings: Settings, task_id: str, batch_size: int = BATCH_SIZE
) -> int:
    """Screen the next batch of a task's customers and write the hits in one
    short transaction; returns how many customers (0 once the task is done)."""
    plan = _screen_next(database, settings, task_id, batch_size)
    if plan is None:
        return 0
    with database.transaction() as db:
        task = db.get(RescreenTask, task_id)
        if task is None or task.status != TaskStatus.PENDING.value or task.cursor != plan.cursor:
            raise Conflict("another worker screened this batch", "rescreen_conflict")
        if plan.done:
            _finish(db, task)
            return 0
        watchlist = db.get(Watchlist, task.watchlist_id)
        version = db.get(ListVersion, task.list_version_id)
        assert watchlist is not None and version is not None
        ctx, ids = plan.ctx, plan.customer_ids
        existing: dict[tuple[str, str | None], list[Hit]] = defaultdict(list)
        # The batch's hits by customer, the list picked here: with the list in
        # the WHERE, SQLite walked every hit on the list through the (list,
        # entity) index, a batch slower with each hit the re-screen wrote.
        for hit in db.scalars(scoped(Hit, ctx).where(Hit.customer_id.in_(ids))):
            if hit.watchlist_id == watchlist.id:
                existing[hit.customer_id, hit.party_id].append(hit)
        parties_now = _current_party_versions(db, ctx, plan)
        created = 0
        for screened in plan.screened:
            party_id = screened.target.party_id
            if party_id is not None and parties_now.get(party_id) != screened.party_version:
                # Removed or changed since it was screened: the write that did
                # it withdrew its hits or screened it against the current lists.
                continue
            result = reconcile(
                db,
                ctx,
                screened.customer_id,
                watchlist,
                version,
                screened.found,
                existing.get((screened.customer_id, party_id), []),
                target=screened.target,
                scope=plan.scope,
            )
            created += result.created
        db.execute(
            update(Monitor)
            .where(
                # All three: SQLite then finds the rows by the (tenant,
                # environment, customer) index instead of walking the tenant's.
                Monitor.tenant_id == ctx.tenant_id,
                Monitor.environment == ctx.environment,
                Monitor.customer_id.in_(ids),
            )
            .values(last_screened_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        advanced = db.execute(
            update(RescreenTask)
            .where(RescreenTask.id == task.id, RescreenTask.cursor == plan.cursor)
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


def _finish(db: Session, task: RescreenTask) -> None:
    task.status = TaskStatus.DONE.value
    task.finished_at = utcnow()


def run_task(
    database: Database,
    settings: Settings,
    task_id: str,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> None:
    locked = 0
    while True:
        try:
            done = run_batch(database, settings, task_id, batch_size)
        except Conflict:
            continue
        except OperationalError:
            # SQLite's write lock stayed busy past the timeout (a long write
            # elsewhere). The task's cursor did not move: the batch runs again.
            locked += 1
            if locked > LOCKED_RETRIES:
                raise
            log.warning("re-screen batch of task %s could not write; retrying", task_id)
            continue
        locked = 0
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
