"""The review queue: verification steps waiting for a person, oldest first,
and who is working on which.

A step enters the queue when it becomes ``awaitingOperatorReview`` (or
``in_review``) and leaves it with its verdict. Its ``updated_at`` is the moment
it entered its current status (every transition bumps it), so "oldest first"
orders by how long the applicant has been waiting. Decisions themselves are not
made here: the console calls ``verification.service.review_step`` exactly like
the review API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from kycd.console.models import Operator, ReviewAssignment
from kycd.customers.models import Customer
from kycd.db import utcnow
from kycd.errors import BadRequest, Conflict, NotFound
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scope_values, scoped
from kycd.verification.levels import StepKind
from kycd.verification.models import VerificationSession, VerificationStep
from kycd.verification.rollup import FINAL_RUN_STATUSES
from kycd.verification.transitions import ReviewStatus

QUEUE_STATUSES = (ReviewStatus.AWAITING_OPERATOR_REVIEW.value, ReviewStatus.IN_REVIEW.value)
QUEUE_LIMIT = 200
ASSIGNED = "review.assigned"
UNASSIGNED = "review.unassigned"
ASSIGNEE_FILTERS = ("", "me", "unassigned")


@dataclass(frozen=True)
class QueueFilters:
    level: str = ""
    kind: str = ""
    status: str = ""
    # Only steps waiting at least this long.
    min_age_hours: int | None = None
    assignee: str = ""

    def validate(self) -> None:
        if self.kind and self.kind not in {k.value for k in StepKind}:
            raise BadRequest(f"unknown step kind '{self.kind}'", field="kind")
        if self.status and self.status not in QUEUE_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(QUEUE_STATUSES)}", field="status")
        if self.assignee not in ASSIGNEE_FILTERS:
            raise BadRequest("assignee must be 'me' or 'unassigned'", field="assignee")


@dataclass(frozen=True)
class QueueItem:
    step_id: str
    session_id: str
    customer_id: str
    client_id: str
    customer: Customer
    level_name: str
    kind: str
    review_status: str
    waiting_since: datetime
    assignee_id: str | None
    assignee_email: str | None

    def waiting(self, now: datetime) -> timedelta:
        return now - self.waiting_since


def _open_steps(ctx: RequestContext) -> Select[Any]:
    """Steps awaiting a person, of runs that can still be decided."""
    return (
        scoped(VerificationStep, ctx)
        .join(VerificationSession, VerificationSession.id == VerificationStep.session_id)
        .where(
            VerificationStep.review_status.in_(QUEUE_STATUSES),
            VerificationSession.status.not_in([s.value for s in FINAL_RUN_STATUSES]),
        )
    )


def review_queue(
    db: Session,
    ctx: RequestContext,
    filters: QueueFilters,
    *,
    operator_id: str,
    now: datetime | None = None,
) -> tuple[list[QueueItem], int]:
    """The matching steps, oldest first (at most :data:`QUEUE_LIMIT`), and how
    many match in all."""
    filters.validate()
    now = now or utcnow()
    stmt = (
        _open_steps(ctx)
        .join(Customer, Customer.id == VerificationStep.customer_id)
        .outerjoin(ReviewAssignment, ReviewAssignment.step_id == VerificationStep.id)
        .outerjoin(Operator, Operator.id == ReviewAssignment.operator_id)
    )
    if filters.level:
        stmt = stmt.where(VerificationSession.level_name == filters.level)
    if filters.kind:
        stmt = stmt.where(VerificationStep.kind == filters.kind)
    if filters.status:
        stmt = stmt.where(VerificationStep.review_status == filters.status)
    if filters.min_age_hours is not None:
        cutoff = now - timedelta(hours=filters.min_age_hours)
        stmt = stmt.where(VerificationStep.updated_at <= cutoff)
    if filters.assignee == "me":
        stmt = stmt.where(ReviewAssignment.operator_id == operator_id)
    elif filters.assignee == "unassigned":
        stmt = stmt.where(ReviewAssignment.step_id.is_(None))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(
        stmt.add_columns(
            VerificationSession.level_name, Customer, ReviewAssignment.operator_id, Operator.email
        )
        .order_by(VerificationStep.updated_at, VerificationStep.id)
        .limit(QUEUE_LIMIT)
    ).all()
    items = [
        QueueItem(
            step_id=step.id,
            session_id=step.session_id,
            customer_id=step.customer_id,
            client_id=customer.client_id,
            customer=customer,
            level_name=level_name,
            kind=step.kind,
            review_status=step.review_status,
            waiting_since=step.updated_at,
            assignee_id=assignee_id,
            assignee_email=assignee_email,
        )
        for step, level_name, customer, assignee_id, assignee_email in rows
    ]
    return items, total


def queue_levels(db: Session, ctx: RequestContext) -> list[str]:
    """The levels of the steps in the queue: the choices of the level filter."""
    stmt = _open_steps(ctx).with_only_columns(VerificationSession.level_name).distinct()
    return sorted(db.scalars(stmt).all())


def queue_counts(db: Session, ctx: RequestContext) -> dict[str, int]:
    """Steps waiting, by review status (for the dashboard)."""
    stmt = _open_steps(ctx).with_only_columns(VerificationStep.review_status, func.count())
    rows = db.execute(stmt.group_by(VerificationStep.review_status)).all()
    return {status: count for status, count in rows}


def assignments_of_customer(db: Session, ctx: RequestContext, customer_id: str) -> dict[str, str]:
    """Step kind -> the e-mail of the operator working on it, for the customer page."""
    rows = db.execute(
        _open_steps(ctx)
        .join(ReviewAssignment, ReviewAssignment.step_id == VerificationStep.id)
        .join(Operator, Operator.id == ReviewAssignment.operator_id)
        .where(VerificationStep.customer_id == customer_id)
        .with_only_columns(VerificationStep.kind, Operator.email)
    ).all()
    return {kind: email for kind, email in rows}


def _queued_step(db: Session, ctx: RequestContext, step_id: str) -> VerificationStep:
    step: VerificationStep | None = db.scalars(
        _open_steps(ctx).where(VerificationStep.id == step_id).with_for_update()
    ).first()
    if step is None:
        raise NotFound("This step is not in the review queue (decided already?)")
    return step


def _payload(step: VerificationStep, operator: Operator | None) -> dict[str, object]:
    return {
        "sessionId": step.session_id,
        "stepKind": step.kind,
        "reviewStatus": step.review_status,
        "operator_id": operator.id if operator else None,
        "operator_email": operator.email if operator else None,
    }


def assign_step(db: Session, ctx: RequestContext, step_id: str, operator: Operator) -> None:
    """Take a step (the operator of ``ctx`` assigns ``operator``). A step held
    by someone else answers 409: they must hand it back first."""
    step = _queued_step(db, ctx, step_id)
    held = db.get(ReviewAssignment, step.id, populate_existing=True, with_for_update=True)
    if held is not None and held.operator_id == operator.id:
        return
    if held is not None:
        holder = db.get(Operator, held.operator_id)
        raise Conflict(
            f"Already assigned to {holder.email if holder else 'another operator'}",
            "already_assigned",
        )
    db.add(
        ReviewAssignment(
            **scope_values(ctx), step_id=step.id, operator_id=operator.id, assigned_at=utcnow()
        )
    )
    db.flush()
    record_event(db, ctx, ASSIGNED, customer_id=step.customer_id, payload=_payload(step, operator))


def unassign_step(db: Session, ctx: RequestContext, step_id: str) -> None:
    """Hand a step back to the queue, whoever held it (a reviewer may free a
    step an absent colleague took); the event names the previous holder."""
    step = _queued_step(db, ctx, step_id)
    held = db.get(ReviewAssignment, step.id, populate_existing=True, with_for_update=True)
    if held is None:
        return
    holder = db.get(Operator, held.operator_id)
    result = db.execute(
        delete(ReviewAssignment).where(
            ReviewAssignment.step_id == step.id,
            ReviewAssignment.operator_id == held.operator_id,
        )
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("The assignment changed concurrently", "assignment_conflict")
    record_event(db, ctx, UNASSIGNED, customer_id=step.customer_id, payload=_payload(step, holder))


def release_decided(db: Session, ctx: RequestContext, session_id: str, kind: str) -> None:
    """A step's assignment ends with its verdict, so that a step back in the
    queue after a resubmission starts unassigned."""
    step_ids = scoped(VerificationStep, ctx).where(
        VerificationStep.session_id == session_id,
        VerificationStep.kind == kind,
        VerificationStep.review_status.not_in(QUEUE_STATUSES),
    )
    db.execute(
        delete(ReviewAssignment).where(
            ReviewAssignment.step_id.in_(step_ids.with_only_columns(VerificationStep.id))
        )
    )
