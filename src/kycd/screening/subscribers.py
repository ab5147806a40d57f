"""Screening reflects on the ``aml`` step of the customer's current run (seed
002), so the applicant's verdict and the compliance status (seed 000) tell
the same story as the hits.

Once per customer, when a write that screened it, decided one of its hits or
started a run commits (screening records its events before and while it
reconciles the hits, so the step is decided from the final hit summary):

=======================================  =====================================
hit summary (active hits)                ``aml`` step of the current open run
=======================================  =====================================
a confirmed hit on a sanctions list      rejected ``FINAL``, label ``SANCTIONS``
an open hit                              ``submitted``: the run waits for the
                                         hit's review
confirmed hits, none on a sanctions      completed ``GREEN``: the reviewer
list (a PEP, adverse media)              knows the customer; compliance
                                         requires the source of funds
clear, and the customer is monitored     completed ``GREEN``
=======================================  =====================================

A customer never screened (not monitored, no hit) leaves the step alone; so
does a step already decided for good. ``adverse_media`` follows ``aml``.

A monitored business's related parties are screened as they change, at the
event (not at commit: the event names the party, and the hits it makes must
be there when the hooks above run): a party added or updated is screened
against the tenant's current lists, a party removed has its active hits
withdrawn. The list files live under the app's data directory, which the
subscriber reaches through the session (:func:`kycd.db.settings_of`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kycd.compliance.inputs import screening_input
from kycd.db import settings_of, utcnow
from kycd.events.commit_hooks import Noted, by_context, per_customer_at_commit
from kycd.events.models import Event
from kycd.events.service import subscribe
from kycd.organization.models import RelatedParty
from kycd.screening import service as screening
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped
from kycd.verification import service as verification

SCREENING_STEPS = {"aml", "adverse_media"}
SANCTIONS_LABEL = "SANCTIONS"
SOURCE = "screening"

TRIGGERS = (
    "screening.monitoring.enabled",
    "screening.hit.created",
    "screening.hit.updated",
    "screening.hit.reopened",
    "screening.hit.withdrawn",
    "screening.hit.reviewed",
    "enrollment.created",
)


def reflect_on_aml_step(db: Session, ctx: RequestContext, customer_id: str) -> list[str]:
    summary = screening.hit_summary(db, ctx, customer_id)
    if screening_input(db, ctx, customer_id).confirmed_sanction_hits:
        return verification.reject_steps(
            db,
            ctx,
            customer_id,
            SCREENING_STEPS,
            reject_type="FINAL",
            labels=[SANCTIONS_LABEL],
            actor_type="system",
            source=SOURCE,
        )
    if summary.open_hits:
        view = verification.current_run_view(db, ctx, customer_id)
        if view is None or view.is_final or view.expires_at <= utcnow():
            return []
        waiting = [
            s.kind for s in view.steps if s.kind in SCREENING_STEPS and s.review_status == "pending"
        ]
        for kind in waiting:
            verification.submit_step(db, ctx, customer_id, kind, actor_type="system")
        return waiting
    if summary.confirmed_hits or summary.monitored:
        return verification.complete_steps(
            db, ctx, customer_id, SCREENING_STEPS, actor_type="system", source=SOURCE
        )
    return []


def reflect_noted(db: Session, noted: dict[str, Noted]) -> None:
    for ctx, group in by_context(noted):
        # Only a customer with a run has a step to reflect on; one look finds
        # them for the whole batch (a re-screen notes a hundred customers,
        # most of them never verified).
        with_runs = verification.current_run_views(db, ctx, group)
        for customer_id in group:
            if customer_id in with_runs:
                reflect_on_aml_step(db, ctx, customer_id)


# First: risk and compliance read the step it decides.
per_customer_at_commit("screening.aml_step", TRIGGERS, order=10, handle=reflect_noted)


PARTY_REMOVED = "organization.party_removed"
PARTY_EVENTS = ("organization.party_added", "organization.party_updated", PARTY_REMOVED)


def screen_changed_party(db: Session, ctx: RequestContext, event: Event) -> None:
    """Screen a party added or updated, withdraw a removed party's hits. Any
    update re-screens: a party unchanged in what is screened finds the hits it
    has, and no event is recorded for them."""
    customer_id, party_id = event.customer_id, event.payload.get("partyId")
    if customer_id is None or not isinstance(party_id, str):
        return
    if event.type == PARTY_REMOVED:
        screening.withdraw_party_hits(db, ctx, customer_id, party_id)
        return
    party = get_scoped(db, RelatedParty, ctx, party_id, what="Related party")
    screening.screen_party(db, ctx, settings_of(db), party)


subscribe(PARTY_EVENTS, screen_changed_party)
