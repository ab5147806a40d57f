"""Verification runs: creating sessions with their steps, moving steps, rolling
the run up, and the views of seed 002.

Every mutation of a run goes through :func:`_mutate`: it locks the run's row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers anyway), so
two decisions on the same run never roll up from stale steps, applies each step
transition as a guarded UPDATE, records the events, and moves the run's status
to the roll-up of its steps.

Other domains call :func:`complete_steps`, :func:`reject_steps`,
:func:`current_run_view` and :func:`submit_step`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kycd.customers import service as customers
from kycd.customers.models import Customer, CustomerType
from kycd.customers.schemas import CustomerCreate
from kycd.db import Database, is_postgres, utcnow
from kycd.errors import BadRequest, Conflict, NotFound
from kycd.events.models import Event
from kycd.events.service import record_event
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped, scope_values, scoped
from kycd.verification import level_service
from kycd.verification.levels import SYSTEM_STEP_KINDS, LevelStep
from kycd.verification.models import (
    SessionStatus,
    VerificationLevel,
    VerificationSession,
    VerificationStep,
)
from kycd.verification.rollup import (
    FINAL_RUN_STATUSES,
    RunOutcome,
    RunStatus,
    StepInput,
    roll_up,
)
from kycd.verification.schemas import SessionCreate, SessionOut
from kycd.verification.transitions import (
    Action,
    IllegalTransition,
    ReviewAnswer,
    ReviewStatus,
    StepState,
    apply,
    validate_labels,
)

# The level a session runs when the request names none.
DEFAULT_LEVEL_FOR_TYPE = {
    CustomerType.INDIVIDUAL.value: "KYC_01",
    CustomerType.BUSINESS.value: "KYB_01",
}
ACTOR_TYPES = frozenset({"system", "sdk", "partner", "operator"})
APPLICANT_REVIEWED = "applicantReviewed"

# The event each step transition records (all on the partner allowlist of seed 002).
STEP_EVENTS = {
    Action.SUBMIT: "enrollment.submitted",
    Action.START_REVIEW: "applicant.sent_to_review",
    Action.SEND_TO_OPERATOR: "applicant.sent_to_review",
    Action.APPROVE: "applicant.verified",
    Action.REJECT: "applicant.rejected",
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Sessions ----------------------------------------------------------------------


def _resolve_or_create_customer(db: Session, ctx: RequestContext, data: SessionCreate) -> Customer:
    if data.customer_id:
        customer = customers.get_customer(db, ctx, data.customer_id)
        if data.client_id and data.client_id != customer.client_id:
            raise BadRequest("client_id does not belong to customer_id", field="client_id")
        return customer
    assert data.client_id is not None  # the schema requires one of the two
    found = customers.find_by_client_id(db, ctx, data.client_id)
    if found is not None:
        return found
    # Seed 003: "If a customer with the client_id doesn't exist, it will be auto-created."
    return customers.create_customer(
        db, ctx, CustomerCreate(client_id=data.client_id, type=data.customer_type)
    )


def _named_level(db: Session, ctx: RequestContext, name: str) -> VerificationLevel:
    try:
        return level_service.resolve_for_run(db, ctx, name)
    except NotFound as exc:
        raise BadRequest(f"unknown level '{name}'", field="level_name") from exc


def create_session(
    db: Session, ctx: RequestContext, settings: Settings, data: SessionCreate
) -> SessionOut:
    # The level first: an unknown one must not auto-create the customer.
    named = _named_level(db, ctx, data.level_name) if data.level_name else None
    customer = _resolve_or_create_customer(db, ctx, data)
    level = named or level_service.resolve_for_run(db, ctx, DEFAULT_LEVEL_FOR_TYPE[customer.type])
    definition = level_service.definition_of(level)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    run = VerificationSession(
        **scope_values(ctx),
        customer_id=customer.id,
        level_name=level.name,
        level_id=level.id,
        status=SessionStatus.CREATED.value,
        token_hash=hash_token(token),
        redirect_url=str(data.redirect_url) if data.redirect_url else None,
        expires_at=now + definition.ttl,
        created_at=now,
        updated_at=now,
    )
    db.add(run)
    db.flush()
    db.add_all(
        VerificationStep(
            **scope_values(ctx),
            session_id=run.id,
            customer_id=customer.id,
            position=position,
            kind=step.kind,
            optional=step.optional,
            created_at=now,
            updated_at=now,
        )
        for position, step in enumerate(definition.steps)
    )
    db.flush()
    record_event(
        db,
        ctx,
        "enrollment.created",
        customer_id=customer.id,
        payload={
            "sessionId": run.id,
            "externalUserId": customer.client_id,
            "levelId": level.id,
            "levelName": level.name,
        },
    )
    out = to_out(run, customer)
    out.verification_url = f"{settings.public_base_url.rstrip('/')}/verify/{token}"
    return out


def list_sessions(db: Session, ctx: RequestContext, customer_id: str) -> list[SessionOut]:
    customer = customers.get_customer(db, ctx, customer_id)
    runs = db.scalars(
        scoped(VerificationSession, ctx)
        .where(VerificationSession.customer_id == customer.id)
        .order_by(VerificationSession.created_at.desc(), VerificationSession.id.desc())
    ).all()
    return [to_out(run, customer) for run in runs]


def to_out(run: VerificationSession, customer: Customer) -> SessionOut:
    return SessionOut(
        id=run.id,
        customer_id=customer.id,
        client_id=customer.client_id,
        level_name=run.level_name,
        level_id=run.level_id,
        status=run.status,
        expires_at=run.expires_at,
        created_at=run.created_at,
        updated_at=run.updated_at,
        completed_at=run.completed_at,
    )


# --- Views -------------------------------------------------------------------------


@dataclass(frozen=True)
class StepView:
    kind: str
    optional: bool
    review_status: str
    review_answer: str | None
    review_reject_type: str | None
    reject_labels: tuple[str, ...]
    last_updated_at: datetime


@dataclass(frozen=True)
class RunView:
    """One run of an applicant through a level, rolled up. What the compliance
    domain builds its policy inputs from."""

    session_id: str
    customer_id: str
    external_user_id: str
    level_id: str | None
    level_name: str
    level_steps: tuple[LevelStep, ...]
    steps: tuple[StepView, ...]
    # The run's status (kycd.verification.rollup.RunStatus) and its verdict.
    status: str
    review_status: str
    review_answer: str | None
    review_reject_type: str | None
    reject_labels: tuple[str, ...]
    # Seed 000's onboardingStatus.
    onboarding_status: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    required_kinds: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        required = frozenset(s.kind for s in self.level_steps if not s.optional)
        object.__setattr__(self, "required_kinds", required)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_RUN_STATUSES

    def step(self, kind: str) -> StepView | None:
        return next((s for s in self.steps if s.kind == kind), None)


def _state(step: VerificationStep) -> StepState:
    return StepState(
        step.review_status, step.review_answer, step.reject_type, tuple(step.reject_labels)
    )


def _outcome(steps: Iterable[VerificationStep]) -> RunOutcome:
    return roll_up([StepInput(s.kind, s.optional, _state(s)) for s in steps])


def _steps_of(db: Session, run: VerificationSession) -> list[VerificationStep]:
    return list(
        db.scalars(
            select(VerificationStep)
            .where(VerificationStep.session_id == run.id)
            .order_by(VerificationStep.position)
            .execution_options(populate_existing=True)
        ).all()
    )


def _view(run: VerificationSession, customer: Customer, steps: list[VerificationStep]) -> RunView:
    outcome = _outcome(steps)
    return RunView(
        session_id=run.id,
        customer_id=customer.id,
        external_user_id=customer.client_id,
        level_id=run.level_id,
        level_name=run.level_name,
        level_steps=tuple(LevelStep(s.kind, s.optional) for s in steps),
        steps=tuple(
            StepView(
                s.kind,
                s.optional,
                s.review_status,
                s.review_answer,
                s.reject_type,
                tuple(s.reject_labels),
                s.updated_at,
            )
            for s in steps
        ),
        status=outcome.status,
        review_status=outcome.review_status,
        review_answer=outcome.review_answer,
        review_reject_type=outcome.reject_type,
        reject_labels=outcome.reject_labels,
        onboarding_status=outcome.onboarding_status,
        created_at=run.created_at,
        updated_at=run.updated_at,
        expires_at=run.expires_at,
        completed_at=run.completed_at,
    )


def _latest_run(db: Session, ctx: RequestContext, customer_id: str) -> VerificationSession | None:
    return db.scalars(
        scoped(VerificationSession, ctx)
        .where(VerificationSession.customer_id == customer_id)
        .order_by(VerificationSession.created_at.desc(), VerificationSession.id.desc())
        .limit(1)
    ).first()


def current_run_view(db: Session, ctx: RequestContext, customer_id: str) -> RunView | None:
    """The customer's latest run, whatever its state (an approved run stays the
    applicant's verdict until a new run starts); ``None`` before the first."""
    customer = customers.get_customer(db, ctx, customer_id)
    return _run_views(db, [customer], _latest_runs(db, ctx, [customer.id])).get(customer.id)


def current_run_views(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, RunView]:
    """:func:`current_run_view` of many customers in a few queries, for work
    done on a batch of customers at once (a re-screen's commit hooks). Customers
    without a run, or not in scope, are left out."""
    latest = _latest_runs(db, ctx, customer_ids)
    if not latest:
        return {}  # the usual case in a re-screen: no customer rows to load
    found = db.scalars(scoped(Customer, ctx).where(Customer.id.in_(list(latest)))).all()
    return _run_views(db, found, latest)


def _latest_runs(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, VerificationSession]:
    latest: dict[str, VerificationSession] = {}
    for run in db.scalars(
        scoped(VerificationSession, ctx)
        .where(VerificationSession.customer_id.in_(list(customer_ids)))
        .order_by(VerificationSession.created_at.desc(), VerificationSession.id.desc())
    ):
        latest.setdefault(run.customer_id, run)
    return latest


def _run_views(
    db: Session, found: Sequence[Customer], latest: dict[str, VerificationSession]
) -> dict[str, RunView]:
    if not latest:
        return {}
    steps: dict[str, list[VerificationStep]] = {run.id: [] for run in latest.values()}
    for step in db.scalars(
        select(VerificationStep)
        .where(VerificationStep.session_id.in_(list(steps)))
        .order_by(VerificationStep.session_id, VerificationStep.position)
        .execution_options(populate_existing=True)
    ):
        steps[step.session_id].append(step)
    return {
        customer.id: _view(run, customer, steps[run.id])
        for customer in found
        if (run := latest.get(customer.id)) is not None
    }


# --- Mutations ---------------------------------------------------------------------


@dataclass(frozen=True)
class StepChange:
    kind: str
    action: Action
    reject_type: str | None = None
    labels: tuple[str, ...] = ()


def _check_actor(actor_type: str) -> None:
    if actor_type not in ACTOR_TYPES:
        raise BadRequest(
            f"actor_type must be one of {', '.join(sorted(ACTOR_TYPES))}", field="actor_type"
        )


def _lock_run(db: Session, ctx: RequestContext, session_id: str) -> VerificationSession:
    run = db.scalars(
        scoped(VerificationSession, ctx)
        .where(VerificationSession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if run is None:
        raise NotFound("Session not found")
    return run


def _guarded_step_update(
    db: Session, step: VerificationStep, new: StepState, now: datetime
) -> None:
    result = db.execute(
        update(VerificationStep)
        .where(VerificationStep.id == step.id, VerificationStep.version == step.version)
        .values(
            review_status=new.review_status,
            review_answer=new.review_answer,
            reject_type=new.reject_type,
            reject_labels=list(new.reject_labels),
            version=step.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"Step '{step.kind}' changed concurrently", "step_conflict")
    db.refresh(step)


def _guarded_run_update(
    db: Session, run: VerificationSession, outcome: RunOutcome, now: datetime
) -> None:
    final = outcome.status in FINAL_RUN_STATUSES
    result = db.execute(
        update(VerificationSession)
        .where(VerificationSession.id == run.id, VerificationSession.status == run.status)
        .values(status=outcome.status, updated_at=now, completed_at=now if final else None)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("Verification run changed concurrently", "run_conflict")
    db.refresh(run)


def _enrollment_complete(steps: list[VerificationStep]) -> bool:
    """Every required step the applicant hands in has been handed in (and is not
    waiting for a retry). Expiry is not handing in."""
    applicant_steps = [s for s in steps if not s.optional and s.kind not in SYSTEM_STEP_KINDS]
    not_in = {ReviewStatus.PENDING, ReviewStatus.EXPIRED}
    return bool(applicant_steps) and all(
        s.review_status not in not_in and not _state(s).is_retry_rejected for s in applicant_steps
    )


def _base_payload(run: VerificationSession, customer: Customer) -> dict[str, Any]:
    return {
        "sessionId": run.id,
        "externalUserId": customer.client_id,
        "levelId": run.level_id,
        "levelName": run.level_name,
    }


def _mutate(
    db: Session,
    ctx: RequestContext,
    run: VerificationSession,
    changes: list[StepChange],
    *,
    actor_type: str,
    strict: bool,
    now: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> list[str]:
    """Apply ``changes`` to a locked, open run. ``strict`` turns an illegal
    transition or an unknown step into an error (the API); otherwise they are
    skipped (other domains reporting results). Returns the kinds changed."""
    now = now or utcnow()
    customer = customers.get_customer(db, ctx, run.customer_id)
    steps = _steps_of(db, run)
    by_kind = {s.kind: s for s in steps}
    before = _outcome(steps)
    was_complete = _enrollment_complete(steps)
    base = {**_base_payload(run, customer), **(extra or {})}
    changed: list[str] = []
    for change in changes:
        step = by_kind.get(change.kind)
        if step is None:
            if strict:
                raise NotFound(f"Step '{change.kind}' is not part of level {run.level_name}")
            continue
        old = _state(step)
        try:
            new = apply(old, change.action, reject_type=change.reject_type, labels=change.labels)
        except IllegalTransition as exc:
            if strict:
                raise Conflict(exc.message, "illegal_transition") from exc
            continue
        if new == old:
            continue
        _guarded_step_update(db, step, new, now)
        changed.append(step.kind)
        event_type = STEP_EVENTS.get(change.action)
        if event_type is not None:
            payload = {**base, "stepKind": step.kind, "step": _step_row(step)}
            record_event(
                db,
                ctx,
                event_type,
                customer_id=customer.id,
                payload=payload,
                actor_type=actor_type,
                at=now,
            )
    if changed:
        _after_change(db, ctx, run, customer, steps, before, was_complete, actor_type, now, base)
    return changed


def _after_change(
    db: Session,
    ctx: RequestContext,
    run: VerificationSession,
    customer: Customer,
    steps: list[VerificationStep],
    before: RunOutcome,
    was_complete: bool,
    actor_type: str,
    now: datetime,
    base: dict[str, Any],
) -> None:
    after = _outcome(steps)

    def emit(event_type: str, payload: dict[str, Any]) -> None:
        record_event(
            db,
            ctx,
            event_type,
            customer_id=customer.id,
            payload=payload,
            actor_type=actor_type,
            at=now,
        )

    if not was_complete and _enrollment_complete(steps):
        emit("enrollment.completed", base)
    if after.status != run.status:
        _guarded_run_update(db, run, after, now)
        if after.status == RunStatus.APPROVED:
            emit("applicant.approved", {**base, "onboardingStatus": after.onboarding_status})
        elif after.status == RunStatus.EXPIRED:
            emit("enrollment.expired", base)
    else:
        run.updated_at = now
        db.flush()
    if after.has_verdict and (not before.has_verdict or before.verdict != after.verdict):
        emit(APPLICANT_REVIEWED, applicant_reviewed_payload(_view(run, customer, steps), now))


def _open_run_for_update(
    db: Session, ctx: RequestContext, customer_id: str
) -> VerificationSession | None:
    latest = _latest_run(db, ctx, customer_id)
    if latest is None:
        return None
    run = _lock_run(db, ctx, latest.id)
    if run.status in FINAL_RUN_STATUSES or run.expires_at <= utcnow():
        return None
    return run


def _check_open(run: VerificationSession) -> None:
    if run.status in FINAL_RUN_STATUSES:
        raise Conflict(f"The verification run is {run.status}", "run_closed")
    if run.expires_at <= utcnow():
        raise Conflict("The verification run has expired", "run_closed")


def complete_steps(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    kinds: set[str],
    *,
    actor_type: str,
    source: str,
) -> list[str]:
    """Mark ``kinds`` GREEN in the customer's current open run. Steps with a final
    verdict or not in the level are skipped; a step rejected RETRY is approved (a
    later pass supersedes a retryable failure). Returns the kinds changed; ``[]``
    when there is no open run."""
    _check_actor(actor_type)
    customer = customers.get_customer(db, ctx, customer_id)
    run = _open_run_for_update(db, ctx, customer.id)
    if run is None:
        return []
    changes = [StepChange(k, Action.APPROVE) for k in _in_level_order(db, run, kinds)]
    return _mutate(
        db, ctx, run, changes, actor_type=actor_type, strict=False, extra={"source": source}
    )


def reject_steps(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    kinds: set[str],
    *,
    reject_type: str,
    labels: list[str],
    actor_type: str,
    source: str,
) -> list[str]:
    """Mark ``kinds`` RED (FINAL or RETRY, with labels) in the customer's current
    open run; the same skipping rules as :func:`complete_steps`."""
    _check_actor(actor_type)
    if reject_type not in {"FINAL", "RETRY"}:
        raise BadRequest("reject_type must be FINAL or RETRY", field="reject_type")
    _validate_labels(labels)
    customer = customers.get_customer(db, ctx, customer_id)
    run = _open_run_for_update(db, ctx, customer.id)
    if run is None:
        return []
    changes = [
        StepChange(k, Action.REJECT, reject_type, tuple(labels))
        for k in _in_level_order(db, run, kinds)
    ]
    return _mutate(
        db, ctx, run, changes, actor_type=actor_type, strict=False, extra={"source": source}
    )


def _validate_labels(labels: list[str]) -> None:
    if not labels:
        raise BadRequest("a rejection needs at least one reject label", field="reject_labels")
    try:
        validate_labels(tuple(labels))
    except ValueError as exc:
        raise BadRequest(str(exc), field="reject_labels") from exc


def _in_level_order(db: Session, run: VerificationSession, kinds: set[str]) -> list[str]:
    return [s.kind for s in _steps_of(db, run) if s.kind in kinds]


def submit_step(
    db: Session, ctx: RequestContext, customer_id: str, kind: str, *, actor_type: str
) -> RunView:
    """The applicant hands a step in (the hosted flow): ``enrollment.submitted``,
    and ``enrollment.completed`` once every required step is in."""
    _check_actor(actor_type)
    customer = customers.get_customer(db, ctx, customer_id)
    latest = _latest_run(db, ctx, customer.id)
    if latest is None:
        raise Conflict("The applicant has no verification run", "no_run")
    run = _lock_run(db, ctx, latest.id)
    _check_open(run)
    _mutate(db, ctx, run, [StepChange(kind, Action.SUBMIT)], actor_type=actor_type, strict=True)
    return _view(run, customer, _steps_of(db, run))


def review_step(
    db: Session,
    ctx: RequestContext,
    session_id: str,
    kind: str,
    action: Action,
    *,
    actor_type: str,
    reject_type: str | None = None,
    labels: tuple[str, ...] = (),
) -> RunView:
    """The review API: one transition of one step of a run, strictly legal."""
    _check_actor(actor_type)
    run = _lock_run(db, ctx, session_id)
    _check_open(run)
    change = StepChange(kind, action, reject_type, labels)
    _mutate(db, ctx, run, [change], actor_type=actor_type, strict=True)
    customer = customers.get_customer(db, ctx, run.customer_id)
    return _view(run, customer, _steps_of(db, run))


def force_verdict(
    db: Session,
    ctx: RequestContext,
    external_user_id: str,
    kind: str,
    *,
    answer: str,
    reject_type: str | None,
    labels: tuple[str, ...],
) -> RunView:
    """Sandbox only (the endpoint checks): decide a step of the current run as
    the partner, from any state that is not final yet."""
    customer = customers.get_by_client_id(db, ctx, external_user_id)
    latest = _latest_run(db, ctx, customer.id)
    if latest is None:
        raise Conflict("The applicant has no verification run", "no_run")
    action = Action.APPROVE if answer == ReviewAnswer.GREEN else Action.REJECT
    return review_step(
        db,
        ctx,
        latest.id,
        kind,
        action,
        actor_type="partner",
        reject_type=reject_type,
        labels=labels,
    )


# --- Expiry ------------------------------------------------------------------------


def expire_overdue_runs(database: Database, now: datetime, batch_size: int = 100) -> int:
    """Expire open runs past their deadline: their undecided steps become
    ``expired`` (RED/EXPIRED) and the run ``enrollment.expired``. Workers on
    PostgreSQL claim runs with SKIP LOCKED, so two never expire the same run."""
    open_statuses = [s.value for s in RunStatus if s not in FINAL_RUN_STATUSES]
    with database.transaction() as db:
        stmt = (
            select(VerificationSession)
            .where(
                VerificationSession.status.in_(open_statuses),
                VerificationSession.expires_at <= now,
            )
            .order_by(VerificationSession.expires_at)
            .limit(batch_size)
        )
        if is_postgres(db):
            stmt = stmt.with_for_update(skip_locked=True)
        runs = db.scalars(stmt).all()
        for run in runs:
            ctx = RequestContext(
                run.tenant_id, run.environment, actor_type="system", actor_id="expiry-sweep"
            )
            changes = [StepChange(s.kind, Action.EXPIRE) for s in _steps_of(db, run)]
            _mutate(db, ctx, run, changes, actor_type="system", strict=False, now=now)
    return len(runs)


# --- Seed 002 bodies ---------------------------------------------------------------


def utc_text(moment: datetime) -> str:
    """Seed 002's timestamps: whole seconds, UTC, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _step_row(step: VerificationStep) -> dict[str, Any]:
    return {
        "kind": step.kind,
        "optional": step.optional,
        "reviewAnswer": step.review_answer,
        "reviewStatus": step.review_status,
        "reviewRejectType": step.reject_type,
        "rejectLabels": list(step.reject_labels),
        "lastUpdatedAtUtc": utc_text(step.updated_at),
    }


def step_rows(view: RunView) -> list[dict[str, Any]]:
    return [
        {
            "kind": s.kind,
            "optional": s.optional,
            "reviewAnswer": s.review_answer,
            "reviewStatus": s.review_status,
            "reviewRejectType": s.review_reject_type,
            "rejectLabels": list(s.reject_labels),
            "lastUpdatedAtUtc": utc_text(s.last_updated_at),
        }
        for s in view.steps
    ]


def steps_body(view: RunView | None, external_user_id: str) -> dict[str, Any]:
    return {
        "externalUserId": external_user_id,
        "levelId": view.level_id if view else None,
        "levelName": view.level_name if view else None,
        "steps": step_rows(view) if view else [],
    }


def applicant_reviewed_payload(view: RunView, at: datetime) -> dict[str, Any]:
    """The ``applicantReviewed`` webhook body: the ``/steps`` vocabulary, with the
    run's verdict alongside."""
    return {
        "type": APPLICANT_REVIEWED,
        "externalUserId": view.external_user_id,
        "applicantId": view.customer_id,
        "sessionId": view.session_id,
        "levelId": view.level_id,
        "levelName": view.level_name,
        "reviewStatus": view.review_status,
        "reviewAnswer": view.review_answer,
        "reviewRejectType": view.review_reject_type,
        "rejectLabels": list(view.reject_labels),
        "onboardingStatus": view.onboarding_status,
        "steps": step_rows(view),
        "createdAtUtc": utc_text(at),
    }


def applicant_view(
    db: Session, ctx: RequestContext, external_user_id: str
) -> tuple[Customer, RunView | None]:
    customer = customers.get_by_client_id(db, ctx, external_user_id)
    return customer, current_run_view(db, ctx, customer.id)


def get_session(db: Session, ctx: RequestContext, session_id: str) -> VerificationSession:
    return get_scoped(db, VerificationSession, ctx, session_id, what="Session")


def status_body(view: RunView | None, external_user_id: str) -> dict[str, Any]:
    if view is None:
        return {
            "externalUserId": external_user_id,
            "levelId": None,
            "levelName": None,
            "reviewStatus": None,
            "reviewAnswer": None,
            "reviewRejectType": None,
            "rejectLabels": [],
            "onboardingStatus": None,
            "createdAtUtc": None,
            "expiresAtUtc": None,
            "lastUpdatedAtUtc": None,
        }
    return {
        "externalUserId": external_user_id,
        "levelId": view.level_id,
        "levelName": view.level_name,
        "reviewStatus": view.review_status,
        "reviewAnswer": view.review_answer,
        "reviewRejectType": view.review_reject_type,
        "rejectLabels": list(view.reject_labels),
        "onboardingStatus": view.onboarding_status,
        "createdAtUtc": utc_text(view.created_at),
        "expiresAtUtc": utc_text(view.expires_at),
        "lastUpdatedAtUtc": utc_text(view.updated_at),
    }


# Seed 002: the events a partner may see in an applicant's review history.
# Anything else (operator-administrative events, internal ones such as
# applicantReviewed, which is a webhook) is dropped from the response.
PARTNER_EVENT_ALLOWLIST = frozenset(
    [
        *(
            f"applicant.{name}"
            for name in (
                "created",
                "updated",
                "reset",
                "blocklisted",
                "blocklist_removed",
                "sent_to_review",
                "email_status_sent",
                "monitoring_enabled",
                "monitoring_disabled",
                "verified",
                "approved",
                "rejected",
                "deactivated",
                "activated",
            )
        ),
        *(f"enrollment.{name}" for name in ("created", "submitted", "completed", "expired")),
        "aml.run",
        "adverse_media.run",
        "managed_compliance.decided",
    ]
)
HISTORY_MAX_LIMIT = 200


def review_history(
    db: Session,
    ctx: RequestContext,
    external_user_id: str,
    *,
    since: datetime | None,
    limit: int,
    event_type: str | None,
) -> dict[str, Any]:
    if event_type is not None and event_type not in PARTNER_EVENT_ALLOWLIST:
        raise BadRequest(
            f"eventType '{event_type}' is not a partner-visible event", field="eventType"
        )
    customer = customers.get_by_client_id(db, ctx, external_user_id)
    types = [event_type] if event_type else sorted(PARTNER_EVENT_ALLOWLIST)
    stmt = scoped(Event, ctx).where(Event.customer_id == customer.id, Event.type.in_(types))
    if since is not None:
        stmt = stmt.where(Event.created_at >= since)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    events = db.scalars(stmt.order_by(Event.created_at.desc(), Event.seq.desc()).limit(limit)).all()
    return {
        "items": [
            {"atUtc": utc_text(e.created_at), "eventType": e.type, "actorType": e.actor_type}
            for e in events
        ],
        "totalItems": total,
    }
