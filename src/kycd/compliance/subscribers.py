"""Refreshes the compliance projection when another domain changes something
the policy reads, in that writer's transaction (see kycd.events.service).

The refresh runs once per customer when the writer's transaction commits, not
at each event (kycd.events.commit_hooks): one write often records several
events (deciding every step of a run records one per step, then the
approval), and evaluating after each of them would report the half-decided
states in between as status changes (and deliver them as webhooks). A
rolled-back transaction refreshes nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kycd.compliance import service
from kycd.events.commit_hooks import Noted, by_context, per_customer_at_commit

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
    "screening.hit.updated",
    "screening.hit.reopened",
    "screening.hit.withdrawn",
    "screening.hit.reviewed",
    "risk.level_changed",
)


def refresh_noted(db: Session, noted: dict[str, Noted]) -> None:
    for ctx, group in by_context(noted):
        service.refresh_many(db, ctx, group)


# Last: it reads what the other hooks decide (the aml step, the risk level).
per_customer_at_commit("compliance.refresh", REFRESHING_EVENT_TYPES, order=90, handle=refresh_noted)
