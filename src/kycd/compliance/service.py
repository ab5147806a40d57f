"""Reading a customer's compliance status, and keeping its projection and the
``compliance.status_changed`` events in step with it.

The status is what the pure policy says at the moment of the read. Evaluating
it reads every domain (about ten statements), so the answer is stored: the
projection row keeps the seed's ``data`` object, the moment time alone may
change it (``valid_until``, from :func:`policy.changes_by_time_at`) and the
fingerprint of the tenant policy it was evaluated under. Every write that
changes a policy input re-evaluates the customer in the writer's transaction
(kycd.compliance.subscribers), so a read that finds an answer within those
bounds serves it with one indexed statement (:func:`stored_answer`); any other
read evaluates afresh and stores the new answer (:func:`evaluated_answer`).

The same row remembers the last state reported (isCompliant, onboardingStatus,
nextAction); whoever evaluates a different state first (a writer, a read, or
the periodic sweep) moves the row on with a guarded UPDATE and records the
event, so each change is recorded once even when several notice it together.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kycd.api.rendering import json_text
from kycd.compliance.config import (
    PolicySettings,
    fingerprint_of,
    load_settings,
    policy_of,
    store_settings,
)
from kycd.compliance.inputs import PROFILE_COLUMNS, OwnData, gather, profile_of
from kycd.compliance.models import ComplianceProjection
from kycd.compliance.policy import AddressInput, ComplianceResult, changes_by_time_at, evaluate
from kycd.compliance.schemas import STATUS_MESSAGE, status_data
from kycd.core.coalesced_reads import one_of
from kycd.customers.models import Address, Customer
from kycd.db import Database, is_postgres, utcnow
from kycd.errors import NotFound
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant

log = logging.getLogger("kycd.compliance")

STATUS_CHANGED = "compliance.status_changed"
POLICY_UPDATED = "compliance.policy_updated"

State = tuple[bool, str | None, str]


@dataclass(frozen=True)
class StoredAnswer:
    data_json: str | None
    valid_until: datetime | None
    policy_fingerprint: str | None


@dataclass(frozen=True)
class Seen:
    """The projection row as it was read: the guard of the next update."""

    state: State
    evaluated_at: datetime
    answer: StoredAnswer


@dataclass(frozen=True)
class Evaluation:
    """The policy's answer for one customer at ``evaluated_at``."""

    customer_id: str
    result: ComplianceResult
    evaluated_at: datetime
    answer: StoredAnswer
    seen: Seen | None  # the projection row it is compared with

    @property
    def stale(self) -> bool:
        return self.seen is None or self.seen.state != self.result.state()

    @property
    def data_json(self) -> str:
        return cast(str, self.answer.data_json)


# The stored answer is served verbatim, so it is stored as FastAPI renders JSON.
dumps = json_text


_P = ComplianceProjection
# Every input of one customer's evaluation in one round trip for the customer's
# own data, its tenant's policy, its projection row and its addresses (one row
# per address), plus the ones :func:`gather` makes for the other domains.
# Built once, so tenant and environment are bound parameters here rather than
# scoped()'s filter (the same filter; tests/compliance check both kinds of
# isolation, as for _ANSWER_STATEMENT below).
_SNAPSHOT_STATEMENT = (
    select(
        Customer.id.label("customer_id"),
        *PROFILE_COLUMNS,
        Tenant.settings.label("tenant_settings"),
        _P.is_compliant,
        _P.onboarding_status,
        _P.next_action,
        _P.evaluated_at,
        _P.data_json,
        _P.valid_until,
        _P.policy_fingerprint,
        Address.type.label("address_type"),
        Address.is_primary.label("address_is_primary"),
        Address.country.label("address_country"),
    )
    .join(Tenant, Tenant.id == Customer.tenant_id)
    .outerjoin(_P, _P.customer_id == Customer.id)
    .outerjoin(Address, Address.customer_id == Customer.id)
    .where(
        Customer.id.in_(bindparam("customer_ids", expanding=True)),
        Customer.tenant_id == bindparam("tenant_id"),
        Customer.environment == bindparam("environment"),
    )
)


def evaluate_now(
    db: Session, ctx: RequestContext, customer_id: str, now: datetime | None = None
) -> Evaluation:
    """The customer's status now, and the projection row it is compared with.
    Writes nothing."""
    evaluation = evaluate_many(db, ctx, [customer_id], now).get(customer_id)
    if evaluation is None:
        raise NotFound("Customer not found")
    return evaluation


def evaluate_many(
    db: Session, ctx: RequestContext, customer_ids: Collection[str], now: datetime | None = None
) -> dict[str, Evaluation]:
    """:func:`evaluate_now` for many customers with one query per source (ids
    that are not customers in ``ctx`` are left out). Writes nothing."""
    now = now or utcnow()
    snapshot: dict[str, list[Any]] = {}
    for row in db.execute(
        _SNAPSHOT_STATEMENT,
        {
            "customer_ids": list(customer_ids),
            "tenant_id": ctx.tenant_id,
            "environment": ctx.environment,
        },
    ):
        snapshot.setdefault(row.customer_id, []).append(row)
    own = {
        customer_id: OwnData(
            profile_of(rows[0]),
            tuple(
                AddressInput(r.address_type, r.address_is_primary, r.address_country)
                for r in rows
                if r.address_type is not None
            ),
        )
        for customer_id, rows in snapshot.items()
    }
    gathered = gather(db, ctx, own)
    evaluations: dict[str, Evaluation] = {}
    for customer_id, inputs in gathered.items():
        first = snapshot[customer_id][0]
        config, fingerprint = policy_of(ctx.tenant_id, first.tenant_settings)
        result = evaluate(inputs, config, now)
        answer = StoredAnswer(
            dumps(status_data(result)), changes_by_time_at(inputs, config, now), fingerprint
        )
        seen = None
        if first.next_action is not None:
            seen = Seen(
                (bool(first.is_compliant), first.onboarding_status, first.next_action),
                first.evaluated_at,
                StoredAnswer(first.data_json, first.valid_until, first.policy_fingerprint),
            )
        evaluations[customer_id] = Evaluation(customer_id, result, now, answer, seen)
    return evaluations


# The read's one statement, shared by the reads that arrive together
# (kycd.core.coalesced_reads). The tenant's settings come along for the policy
# fingerprint: a changed policy makes every stored answer of the tenant a miss.
_ANSWER_STATEMENT = (
    select(_P.customer_id, _P.data_json, _P.valid_until, _P.policy_fingerprint, Tenant.settings)
    .join(Tenant, Tenant.id == _P.tenant_id)
    .where(
        one_of(_P.customer_id, "customer_ids"),
        _P.tenant_id == bindparam("tenant_id"),
        _P.environment == bindparam("environment"),
    )
)


async def stored_answer(
    database: Database, ctx: RequestContext, customer_id: str, now: datetime | None = None
) -> str | None:
    """The stored ``data`` of the customer's status if it still holds at
    ``now``; None when it has to be evaluated (or the customer is unknown).

    One indexed statement, shared with the other reads of the event loop's
    turn and cheap enough to run on the loop (see kycd.core.coalesced_reads);
    a driver error counts as a miss, so the caller's ordinary path answers
    (or fails) with a session of its own."""
    read = database.coalesced(_ANSWER_STATEMENT, "customer_ids")
    rows = await read.rows_if_read(
        customer_id, tenant_id=ctx.tenant_id, environment=ctx.environment
    )
    if not rows:
        return None
    now = now or utcnow()
    data_json, valid_until, policy_fingerprint, tenant_settings = rows[0]
    if data_json is None or (valid_until is not None and now >= valid_until):
        return None
    if policy_fingerprint != fingerprint_of(ctx.tenant_id, tenant_settings):
        return None
    return cast(str, data_json)


def evaluated_answer(database: Database, ctx: RequestContext, customer_id: str) -> str:
    """The ``data`` of the status evaluated now, stored in a short write
    transaction (which records the change, if time alone made one)."""
    with database.transaction() as db:
        evaluation = refresh(db, ctx, customer_id, utcnow())
    if evaluation is None:
        raise NotFound("Customer not found")
    return evaluation.data_json


def status_body_json(data_json: str, trace_id: str) -> str:
    """The seed's envelope around a stored ``data``, without parsing it."""
    return f'{{"message":{dumps(STATUS_MESSAGE)},"data":{data_json},"traceId":{dumps(trace_id)}}}'


def _as_payload(state: State) -> dict[str, Any]:
    return {"isCompliant": state[0], "onboardingStatus": state[1], "nextAction": state[2]}


def _answer_values(answer: StoredAnswer) -> dict[str, Any]:
    return {
        "data_json": answer.data_json,
        "valid_until": answer.valid_until,
        "policy_fingerprint": answer.policy_fingerprint,
    }


def _insert_if_absent(db: Session, values: dict[str, Any]) -> bool:
    # RETURNING rather than rowcount, which psycopg reports as -1 here.
    table = cast(Table, ComplianceProjection.__table__)
    dialect_insert = pg_insert if is_postgres(db) else sqlite_insert
    stmt = (
        dialect_insert(table)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(table.c.customer_id)
    )
    return db.execute(stmt).first() is not None


def _forget_answer(db: Session, customer_id: str) -> None:
    """Another transaction moved the row while this one evaluated: its stored
    answer may predate this transaction's changes, so the next read evaluates."""
    db.execute(
        update(ComplianceProjection)
        .where(ComplianceProjection.customer_id == customer_id)
        .values(data_json=None)
        .execution_options(synchronize_session=False)
    )


def store(db: Session, ctx: RequestContext, evaluation: Evaluation, *, touch: bool = False) -> bool:
    """Move the projection from what was seen to ``evaluation`` and record the
    change. Returns whether this call recorded a change.

    A lost guard means another transaction moved the row first; it recorded
    the event, this one stays quiet (and leaves no answer it cannot vouch for).
    ``touch`` stamps ``evaluated_at`` even when nothing changed (the sweep).
    """
    customer_id, seen, now = evaluation.customer_id, evaluation.seen, evaluation.evaluated_at
    after = evaluation.result.state()
    values = {"is_compliant": after[0], "onboarding_status": after[1], "next_action": after[2]}
    answer_values = _answer_values(evaluation.answer)
    if seen is None:
        # The first evaluation of a customer sets the baseline; events report
        # changes from it, so creating a customer records no extra event.
        row = {
            "customer_id": customer_id,
            "tenant_id": ctx.tenant_id,
            "environment": ctx.environment,
            "evaluated_at": now,
            **values,
            **answer_values,
        }
        if not _insert_if_absent(db, row):
            _forget_answer(db, customer_id)
        return False
    if seen.state == after:
        answer_changed = touch or seen.answer != evaluation.answer
        update_values = {**answer_values, "evaluated_at": now}
        if answer_changed and not _guarded_update(db, customer_id, seen, update_values):
            _forget_answer(db, customer_id)
        return False
    if not _guarded_update(db, customer_id, seen, {**values, **answer_values, "evaluated_at": now}):
        _forget_answer(db, customer_id)
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
            "requiredFailed": evaluation.result.required_failed,
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


def _lock_rows(db: Session, customer_ids: Collection[str]) -> None:
    """On PostgreSQL, writers of one customer evaluate one after the other:
    under READ COMMITTED a writer that evaluated before another committed
    would otherwise store an answer missing the other's change. (SQLite runs
    one writer at a time already.) In id order, so that two writers of several
    customers never wait for each other in a cycle."""
    if is_postgres(db):
        p = ComplianceProjection
        db.execute(
            select(p.customer_id)
            .where(p.customer_id.in_(sorted(customer_ids)))
            .order_by(p.customer_id)
            .with_for_update()
        )


def refresh(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    now: datetime | None = None,
    *,
    touch: bool = False,
) -> Evaluation | None:
    """Re-evaluate one customer in the caller's (writing) transaction and store
    the answer. An id that is not the caller's customer is ignored (None)."""
    return refresh_many(db, ctx, [customer_id], now, touch=touch).get(customer_id)


def refresh_many(
    db: Session,
    ctx: RequestContext,
    customer_ids: Collection[str],
    now: datetime | None = None,
    *,
    touch: bool = False,
) -> dict[str, Evaluation]:
    """:func:`refresh` for many customers, evaluated together."""
    _lock_rows(db, customer_ids)
    evaluations = evaluate_many(db, ctx, customer_ids, now)
    for evaluation in evaluations.values():
        store(db, ctx, evaluation, touch=touch)
    return evaluations


# Re-evaluated once their stored answer lapses (time alone changed it: an
# expiring document or approval), so that the change reaches the event log and
# the webhooks even when nobody reads the status; and at least this often.
SWEEP_MAX_AGE = timedelta(hours=24)
SWEEP_BATCH = 100


def sweep(database: Database, now: datetime, *, max_age: timedelta = SWEEP_MAX_AGE) -> int:
    """Re-evaluate customers whose projection is missing, whose stored answer
    lapsed or is missing, or that were evaluated more than ``max_age`` ago."""
    p = ComplianceProjection
    with database.transaction() as db:
        # Answers stored under a tenant policy since changed (few tenants).
        policy_changed = [
            and_(p.tenant_id == tenant_id, p.policy_fingerprint.is_distinct_from(fingerprint))
            for tenant_id, settings in db.execute(select(Tenant.id, Tenant.settings))
            for fingerprint in [fingerprint_of(tenant_id, settings)]
        ]
        rows = db.execute(
            select(Customer.id, Customer.tenant_id, Customer.environment)
            .outerjoin(p, p.customer_id == Customer.id)
            .where(
                or_(
                    p.customer_id.is_(None),
                    p.data_json.is_(None),
                    p.valid_until <= now,
                    p.evaluated_at < now - max_age,
                    *policy_changed,
                )
            )
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
    customers): the stored answers carry the old policy's fingerprint, so reads
    evaluate afresh, and the sweep re-evaluates them in batches (recording the
    changes the new policy makes)."""
    stored = store_settings(db, ctx, data)
    record_event(db, ctx, POLICY_UPDATED, payload=stored.model_dump(mode="json"))
    return stored.effective()
