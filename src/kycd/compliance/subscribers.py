"""Refreshes the compliance projection when another domain changes something
the policy reads, in that writer's transaction (see kycd.events.service).

The refresh runs once per customer when the writer's transaction commits, not
at each event: one write often records several events (deciding every step of
a run records one per step, then the approval), and evaluating after each of
them would report the half-decided states in between as status changes (and
deliver them as webhooks). A rolled-back transaction refreshes nothing.
"""

from __future__ import annotations

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from kycd.compliance import service
from kycd.events.models import Event
from kycd.events.service import subscribe
from kycd.tenancy.context import RequestContext

REFRESHING_EVENT_TYPES: tuple[str, ...] = (
    # Customers (foundation) and their lifecycle (#4): the profile, addresses,
    # and the lifecycle status (a rejected client is denied).
    "applicant.created",
    "applicant.updated",
    "applicant.deactivated",
    "applicant.address_added",
    "applicant.address_updated",
    "applicant.activated",
    "applicant.withdrawn",
    "applicant.closed",
    "applicant.reactivated",
    # Identifiers and documents (#4).
    "applicant.identifier_added",
    "applicant.identifier_deleted",
    "applicant.document_uploaded",
    "applicant.document_reviewed",
    # Verification runs and steps (#5).
    "enrollment.created",
    "enrollment.submitted",
    "enrollment.completed",
    "enrollment.expired",
    "applicant.sent_to_review",
    "applicant.verified",
    "applicant.rejected",
    "applicant.approved",
    "applicantReviewed",
    "aml.run",
    # Provider checks (#6): a recorded or refreshed check is pending until it
    # passes or fails.
    "user_check.accepted",
    "user_check.refreshed",
    "USER_CHECK.PASSED",
    "USER_CHECK.FAILED",
    # Screening (#9) and risk (#10).
    "screening.hit.created",
    "screening.hit.reviewed",
    "risk.level_changed",
)

_PENDING = "kycd.compliance.pending_refresh"
# A refresh may record events that ask for another (bounded all the same).
_MAX_ROUNDS = 10


def _pending(db: Session) -> dict[str, RequestContext]:
    pending: dict[str, RequestContext] = db.info.setdefault(_PENDING, {})
    return pending


def on_change(db: Session, ctx: RequestContext, event: Event) -> None:
    if event.customer_id is not None:
        _pending(db).setdefault(event.customer_id, ctx)


def _refresh_pending(db: Session) -> None:
    if db.in_nested_transaction():
        return  # a savepoint is released mid-write; the writer has not finished
    for _ in range(_MAX_ROUNDS):
        pending = db.info.pop(_PENDING, None)
        if not pending:
            return
        db.flush()
        for customer_id, ctx in pending.items():
            service.refresh(db, ctx, customer_id)


def _forget_pending(db: Session, previous: SessionTransaction) -> None:
    # A savepoint rolled back leaves the rest of the writer's changes standing:
    # refreshing a customer whose change was undone only finds nothing new.
    if previous.parent is None:
        db.info.pop(_PENDING, None)


subscribe(REFRESHING_EVENT_TYPES, on_change)
sa_event.listen(Session, "before_commit", _refresh_pending)
sa_event.listen(Session, "after_soft_rollback", _forget_pending)
