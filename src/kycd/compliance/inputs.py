"""Gathering one customer's :class:`ComplianceInputs` from the database.

This branch reads what the foundation stores:

* ``profile`` and ``addresses`` from the customer row (``kycd.customers``);
* ``run`` from the customer's most recent verification session and
  ``earlier_approval_at`` from its earlier approved sessions
  (``kycd.verification``), the session status mapped to seed 000's
  ``onboardingStatus`` by :data:`ONBOARDING_STATUS_OF_SESSION`.

The other domains are built on their own branches; after merging, the lead
wires them here (each is a plain value of :mod:`kycd.compliance.policy`, left
empty until then):

* ``identifiers``: the customer's identifiers (#4, lifecycle): document type and expiry;
* ``documents``: the customer's documents (#4): type, expiry, review state;
* ``run.steps`` and ``run.onboarding_status``: the current run's steps and the
  roll-up of the verification domain (#5), replacing the session-status mapping;
* ``provider_checks``: the user checks of seed 004 (#6): type, status,
  check_confirmed_at, document_expiration_date, method;
* ``screening``: open, confirmed and confirmed-sanctions hit counts (#9);
* ``risk_level``: the current risk profile's level (#10).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kycd.compliance.policy import (
    AddressInput,
    ComplianceInputs,
    OnboardingStatus,
    ProfileInput,
    RunInput,
)
from kycd.customers.models import Customer
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scoped
from kycd.verification.models import SessionStatus, VerificationSession

ONBOARDING_STATUS_OF_SESSION: dict[str, OnboardingStatus] = {
    SessionStatus.CREATED.value: OnboardingStatus.PENDING,
    SessionStatus.IN_PROGRESS.value: OnboardingStatus.PENDING,
    SessionStatus.SUBMITTED.value: OnboardingStatus.PROCESSING,
    SessionStatus.IN_REVIEW.value: OnboardingStatus.PROCESSING,
    SessionStatus.APPROVED.value: OnboardingStatus.APPROVED,
    SessionStatus.REJECTED.value: OnboardingStatus.DENIED_COMPLIANCE,
    SessionStatus.EXPIRED.value: OnboardingStatus.EXPIRED,
}

# Only while the current run is undecided does an earlier approval matter: an
# approved current run is the newest approval, and a denial overrides any.
_UNDECIDED = frozenset(
    {OnboardingStatus.PENDING, OnboardingStatus.PROCESSING, OnboardingStatus.EXPIRED}
)


def profile_of(customer: Customer) -> ProfileInput:
    return ProfileInput(
        customer_type=customer.type,
        status=customer.status,
        first_name=customer.first_name,
        last_name=customer.last_name,
        company_name=customer.company_name,
        date_of_birth=customer.date_of_birth,
        nationality=customer.nationality,
        country_of_residence=customer.country_of_residence,
        tax_country=customer.tax_country,
        occupation=customer.occupation,
        source_of_funds=customer.source_of_funds,
        industry=customer.industry,
        incorporation_country=customer.incorporation_country,
        registration_number=customer.registration_number,
    )


def run_of(session: VerificationSession) -> RunInput:
    status = ONBOARDING_STATUS_OF_SESSION.get(session.status, OnboardingStatus.PENDING)
    return RunInput(
        level_name=session.level_name,
        onboarding_status=status,
        created_at=session.created_at,
        expires_at=session.expires_at,
        approved_at=session.completed_at if status is OnboardingStatus.APPROVED else None,
    )


def _current_run(db: Session, ctx: RequestContext, customer_id: str) -> VerificationSession | None:
    return db.scalars(
        scoped(VerificationSession, ctx)
        .where(VerificationSession.customer_id == customer_id)
        .order_by(VerificationSession.created_at.desc(), VerificationSession.id.desc())
        .limit(1)
    ).first()


def _earlier_approval(
    db: Session, ctx: RequestContext, customer_id: str, current: VerificationSession
) -> datetime | None:
    moment: datetime | None = db.scalar(
        select(
            func.max(
                func.coalesce(VerificationSession.completed_at, VerificationSession.created_at)
            )
        ).where(
            VerificationSession.tenant_id == ctx.tenant_id,
            VerificationSession.environment == ctx.environment,
            VerificationSession.customer_id == customer_id,
            VerificationSession.status == SessionStatus.APPROVED.value,
            VerificationSession.id != current.id,
        )
    )
    return moment


def load_inputs(db: Session, ctx: RequestContext, customer: Customer) -> ComplianceInputs:
    current = _current_run(db, ctx, customer.id)
    run = run_of(current) if current is not None else None
    earlier = None
    if current is not None and run is not None and run.onboarding_status in _UNDECIDED:
        earlier = _earlier_approval(db, ctx, customer.id, current)
    return ComplianceInputs(
        profile=profile_of(customer),
        addresses=tuple(AddressInput(a.type, a.is_primary, a.country) for a in customer.addresses),
        run=run,
        earlier_approval_at=earlier,
    )
