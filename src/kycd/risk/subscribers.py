"""Automatic recalculation: the events that change a risk profile's inputs.

Handlers run inside the writer's transaction, so the new profile commits (or
rolls back) with the change that caused it. Risk's own events (``risk.*``)
are not subscribed, so recalculation never loops.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from kycd.errors import BadRequest
from kycd.events.models import Event
from kycd.events.service import subscribe
from kycd.risk import service
from kycd.tenancy.context import RequestContext

log = logging.getLogger("kycd.risk")

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


def on_input_changed(db: Session, ctx: RequestContext, event: Event) -> None:
    if event.customer_id is None:
        return
    # Pending objects (the event itself, the writer's rows) must be visible to
    # the queries the recalculation makes.
    db.flush()
    try:
        service.recalculate_if_customer(db, ctx, event.customer_id, reason=event.type)
    except BadRequest as exc:
        # Only a tenant's settings edited by hand past validation get here; the
        # change that triggered us must not fail for it. The worker retries.
        log.warning("risk recalculation skipped for %s: %s", event.customer_id, exc.message)


subscribe(TRIGGERS, on_input_changed)
