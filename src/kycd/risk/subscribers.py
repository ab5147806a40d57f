"""Automatic recalculation: the events that change a risk profile's inputs.

The profile is recalculated once per customer when the writer's transaction
commits (kycd.events.commit_hooks), inside it, so the new profile commits (or
rolls back) with the change that caused it; its ``reason`` lists the event
types that asked for it. Once, not per event: a re-screen that records twenty
hits recalculates once, and the history keeps no half-done states. Risk's own
events (``risk.*``) are not subscribed, so recalculation never loops.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from kycd.errors import BadRequest
from kycd.events.commit_hooks import Noted, by_context, per_customer_at_commit
from kycd.risk import service

log = logging.getLogger("kycd.risk")

REASON_LENGTH = 200  # RiskProfile.reason

TRIGGERS = (
    # Profile data: nationality, residence (addresses too), occupation, industry.
    "applicant.created",
    "applicant.updated",
    "applicant.address_added",
    "applicant.address_updated",
    # A reviewer's decision on a document (rejected documents count).
    "applicant.document_reviewed",
    # Screening hits (sanctions, PEP, adverse media) and reviewers' decisions on them.
    "screening.hit.created",
    "screening.hit.updated",
    "screening.hit.reopened",
    "screening.hit.withdrawn",
    "screening.hit.reviewed",
    # Verification runs: a new run (a retry) and a review result.
    "enrollment.created",
    "applicantReviewed",
    # Ownership structure of a business (opacity).
    "organization.party_added",
    "organization.party_updated",
    "organization.party_removed",
    "organization.ownership_added",
    "organization.ownership_updated",
    "organization.ownership_removed",
)


def _reason(event_types: list[str]) -> str:
    reason = ", ".join(event_types)
    return reason if len(reason) <= REASON_LENGTH else reason[: REASON_LENGTH - 1] + "…"


def recalculate_noted(db: Session, noted: dict[str, Noted]) -> None:
    for ctx, group in by_context(noted):
        reasons = {customer_id: _reason(entry.event_types) for customer_id, entry in group.items()}
        try:
            service.recalculate_many(db, ctx, reasons)
        except BadRequest as exc:
            # Only a tenant's settings edited by hand past validation get here; the
            # change that triggered us must not fail for it. The worker retries.
            log.warning("risk recalculation skipped for %s: %s", sorted(group), exc.message)


# After screening (the aml step), before compliance (which reads the level).
per_customer_at_commit("risk.recalculate", TRIGGERS, order=20, handle=recalculate_noted)
