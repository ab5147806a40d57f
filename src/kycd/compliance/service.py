"""Reading a customer's compliance status, and keeping its projection and the
``compliance.status_changed`` events in step with it.

The status is always computed by the pure policy at the moment of the read.
The projection row remembers the last state reported (isCompliant,
onboardingStatus, nextAction); whoever sees a different state first (a read, a
write of another domain through the event subscriber, or the periodic sweep)
moves the row on with a guarded UPDATE and records the event, so each change is
recorded once even when several of them notice it at the same time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kycd.compliance.config import (
    PolicySettings,
    config_of,
    load_config,
    load_settings,
    store_settings,
)
from kycd.compliance.inputs import PROFILE_COLUMNS, gather, load_inputs, profile_of
from kycd.compliance.models import ComplianceProjection
from kycd.compliance.policy import AddressInput, ComplianceResult, evaluate
from kycd.customers.models import Address, Customer
from kycd.db import Database, is_postgres, utcnow
from kycd.errors import NotFound
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.scoping import scoped

log = logging.getLogger("kycd.compliance")

STATUS_CHANGED = "compliance.status_changed"
POLICY_UPDATED = "compliance.policy_updated"

State = tuple[bool, str | None, str]


@dataclass(frozen=True)
class Seen:
    """The projection row as it was read: the guard of the next update."""

    state: State
    evaluated_at: datetime


@dataclass(frozen=True)
class StatusRead:
    customer_id: str
    result: ComplianceResult
    evaluated_at: datetime
    seen: Seen | None

    @property
    def stale(self) -> bool:
        return self.seen is None or self.seen.state != self.result.state()


def evaluate_customer(
    db: Session, ctx: RequestContext, customer: Customer, now: datetime
) -> ComplianceResult:
    return evaluate(load_inputs(db, ctx, customer), load_config(db, ctx), now)


def _seen(db: Session, customer_id: str) -> Seen | None:
    # Plain columns, not an ORM object: a row updated by a guarded UPDATE
    # earlier in the same session must not be answered from the identity map.
    p = ComplianceProjection
    row = db.execute(
        select(p.is_compliant, p.onboarding_status, p.next_action, p.evaluated_at).where(
            p.customer_id == customer_id
        )
    ).first()
    if row is None:
        return None
    is_compliant, onboarding_status, next_action, evaluated_at = row
    return Seen((bool(is_compliant), onboarding_status, next_action), evaluated_at)


_P = ComplianceProjection
# The status read in one round trip for the customer's own data, its tenant's
# policy, its projection row and its addresses (one row per address), plus
# the ones :func:`gather` makes for the other domains. Built once, so tenant
# and environment are bound parameters here rather than scoped()'s filter
# (the same filter; tests/compliance check both kinds of isolation).
_SNAPSHOT_STATEMENT = (
    select(
        Customer.id.label("customer_id"),
        *PROFILE_COLUMNS,
        Tenant.settings.label("tenant_settings"),
        _P.is_compliant,
        _P.onboarding_status,
        _P.next_action,
        _P.evaluated_at,
        Address.type.label("address_type"),
        Address.is_primary.label("address_is_primary"),
        Address.country.label("address_country"),
    )
    .join(Tenant, Tenant.id == Customer.tenant_id)
    .outerjoin(_P, _P.customer_id == Customer.id)
    .outerjoin(Address, Address.customer_id == Customer.id)
    .where(
        Customer.id == bindparam("customer_id"),
        Customer.tenant_id == bindparam("tenant_id"),
        Customer.environment == bindparam("environment"),
    )
)


def read_status(
    db: Session, ctx: RequestContext, customer_id: str, now: datetime | None = None
) -> StatusRead:
    """The customer's status now, and the projection row it is compared with.
    Writes nothing: a GET runs on a read-only session."""
    now = now or utcnow()
    rows = db.execute(
        _SNAPSHOT_STATEMENT,
        {"customer_id": customer_id, "tenant_id": ctx.tenant_id, "environment": ctx.environment},
    ).all()
    if not rows:
        raise NotFound("Customer not found")
    first = rows[0]
    addresses = tuple(
        AddressInput(r.address_type, r.address_is_primary, r.address_country)
        for r in rows
        if r.address_type is not None
    )
    inputs = gather(db, ctx, first.customer_id, profile_of(first), addresses)
    result = evaluate(inputs, config_of(ctx.tenant_id, first.tenant_settings), now)
    seen = None
    if first.next_action is not None:
        state = (bool(first.is_compliant), first.onboarding_status, first.next_action)
        seen = Seen(state, first.evaluated_at)
    return StatusRead(first.customer_id, result, now, seen)


def _as_payload(state: State) -> dict[str, Any]:
    return {"isCompliant": state[0], "onboardingStatus": state[1], "nextAction": state[2]}


def _insert_if_absent(db: Session, values: dict[str, Any]) -> bool:
    # The Table, not the mapped class: an ORM insert does not report rowcount.
    table = cast(Table, ComplianceProjection.__table__)
    dialect_insert = pg_insert if is_postgres(db) else sqlite_insert
    stmt = dialect_insert(table).values(**values).on_conflict_do_nothing()
    return getattr(db.execute(stmt), "rowcount", 0) == 1


def sync_projection(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    result: ComplianceResult,
    now: datetime,
    seen: Seen | None,
    *,
    touch: bool = False,
) -> bool:
    """Move the projection from ``seen`` to ``result`` and record the change.

    Returns whether this call recorded a change. A lost guard means another
    request moved the row first; it recorded the event, this one stays quiet.
    ``touch`` also stamps ``evaluated_at`` when nothing changed (the sweep).
    """
    after = result.state()
    if seen is not None and seen.state == after:
        if touch:
            _guarded_update(db, customer_id, seen, {"evaluated_at": now})
        return False
    values = {"is_compliant": after[0], "onboarding_status": after[1], "next_action": after[2]}
    if seen is None:
        # The first evaluation of a customer sets the baseline; events report
        # changes from it, so creating a customer records no extra event.
        _insert_if_absent(
            db,
            {
                "customer_id": customer_id,
                "tenant_id": ctx.tenant_id,
                "environment": ctx.environment,
                "evaluated_at": now,
                **values,
            },
        )
        return False
    if not _guarded_update(db, customer_id, seen, {**values, "evaluated_at": now}):
        return False
    record_event(
        db,
        ctx,
        STATUS_CHANGED,
        customer_id=customer_id,
        actor_type="system",
        payload={
            "customerId": customer_id,
            "before": _as_payload(seen.state),
            "after": _as_payload(after),
            "requiredFailed": result.required_failed,
        },
    )
    return True


def _guarded_update(db: Session, customer_id: str, seen: Seen, values: dict[str, Any]) -> bool:
    p = ComplianceProjection
    stmt = (
        update(p)
        .where(
            p.customer_id == customer_id,
            p.is_compliant == seen.state[0],
            p.onboarding_status.is_not_distinct_from(seen.state[1]),
            p.next_action == seen.state[2],
            p.evaluated_at == seen.evaluated_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return getattr(db.execute(stmt), "rowcount", 0) == 1


def refresh(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    now: datetime | None = None,
    *,
    touch: bool = False,
) -> bool:
    """Re-evaluate one customer in the caller's transaction (event subscriber,
    sweep). An id that is not the caller's customer is ignored."""
    now = now or utcnow()
    customer = db.scalars(scoped(Customer, ctx).where(Customer.id == customer_id)).first()
    if customer is None:
        return False
    result = evaluate_customer(db, ctx, customer, now)
    return sync_projection(db, ctx, customer.id, result, now, _seen(db, customer.id), touch=touch)


# Re-evaluated at least this often, so that changes made by time alone (an
# expiring document or approval) reach the event log and the webhooks even
# when nobody reads the status.
SWEEP_MAX_AGE = timedelta(hours=24)
SWEEP_BATCH = 100


def sweep(database: Database, now: datetime, *, max_age: timedelta = SWEEP_MAX_AGE) -> int:
    """Re-evaluate customers whose projection is missing or older than ``max_age``."""
    p = ComplianceProjection
    with database.transaction() as db:
        rows = db.execute(
            select(Customer.id, Customer.tenant_id, Customer.environment)
            .outerjoin(p, p.customer_id == Customer.id)
            .where(or_(p.customer_id.is_(None), p.evaluated_at < now - max_age))
            .limit(SWEEP_BATCH)
        ).all()
        for customer_id, tenant_id, environment in rows:
            ctx = RequestContext(tenant_id, environment, actor_type="system")
            try:
                # One customer's failure must not hold back the batch.
                with db.begin_nested():
                    refresh(db, ctx, customer_id, now, touch=True)
            except Exception:
                log.exception("compliance sweep: customer %s not re-evaluated", customer_id)
    return len(rows)


def get_policy(db: Session, ctx: RequestContext) -> PolicySettings:
    return load_settings(db, ctx).effective()


def update_policy(db: Session, ctx: RequestContext, data: PolicySettings) -> PolicySettings:
    """Statuses are not recomputed here (a tenant may have millions of
    customers): each read, write and the sweep bring them up to date."""
    stored = store_settings(db, ctx, data)
    record_event(db, ctx, POLICY_UPDATED, payload=stored.model_dump(mode="json"))
    return stored.effective()
