"""Refreshes the compliance projection when another domain changes something
the policy reads, in that writer's transaction (see kycd.events.service).

Event names of the domains built beside this one are listed as their issues
name them; the lead aligns the list when merging.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kycd.compliance import service
from kycd.events.models import Event
from kycd.events.service import subscribe
from kycd.tenancy.context import RequestContext

REFRESHING_EVENT_TYPES: tuple[str, ...] = (
    # Customers and lifecycle (foundation, #4).
    "applicant.created",
    "applicant.updated",
    "applicant.reset",
    "applicant.verified",
    "applicant.rejected",
    "applicant.blocklisted",
    "applicant.blocklist_removed",
    # Identifiers and documents (#4).
    "identifier.created",
    "identifier.deleted",
    "document.created",
    "document.reviewed",
    "document.deleted",
    # Verification runs and steps (foundation, #5).
    "enrollment.created",
    "enrollment.submitted",
    "enrollment.completed",
    "enrollment.expired",
    "applicant.sent_to_review",
    "applicant.approved",
    "applicantReviewed",
    "aml.run",
    # Provider checks (#6).
    "USER_CHECK.PASSED",
    "USER_CHECK.FAILED",
    # Screening (#9) and risk (#10).
    "screening.hit.created",
    "screening.hit.reviewed",
    "risk.level_changed",
)


def on_change(db: Session, ctx: RequestContext, event: Event) -> None:
    if event.customer_id is not None:
        service.refresh(db, ctx, event.customer_id)


subscribe(REFRESHING_EVENT_TYPES, on_change)
