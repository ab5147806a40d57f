"""Gathering one customer's :class:`ComplianceInputs` from the database.

This branch reads what the foundation stores:

* ``profile`` and ``addresses`` from the customer row (``kycd.customers``);
* ``run`` from the customer's most recent verification session and
  ``earlier_approval_at`` from its earlier approved sessions
  (``kycd.verification``), the session status mapped to seed 000's
  ``onboardingStatus`` by :data:`ONBOARDING_STATUS_OF_SESSION`.

Both the status read and the event subscriber go through :func:`gather`, the
one place where every source is read. The other domains are built on their
own branches; after merging, the lead wires them into :func:`gather` (each is a
plain value of :mod:`kycd.compliance.policy`, left empty until then):

* ``identifiers``: the customer's identifiers (#4, lifecycle): document type and expiry;
* ``documents``: the customer's documents (#4): type, expiry, review state;
* ``run.steps`` and ``run.onboarding_status``: the current run's steps and the
  roll-up of the verification domain (#5), replacing the session-status mapping
  (``run.approved_at`` and ``earlier_approval_at`` read the sessions'
  ``completed_at``, which #5 must set when a run is approved);
* ``provider_checks``: the user checks of seed 004 (#6): type, status,
  check_confirmed_at, document_expiration_date, method;
* ``screening``: open, confirmed and confirmed-sanctions hit counts (#9);
* ``risk_level``: the current risk profile's level (#10).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, aliased

from kycd.compliance.policy import (
    AddressInput,
    ComplianceInputs,
    OnboardingStatus,
    ProfileInput,
    RunInput,
)
from kycd.customers.models import Customer
from kycd.tenancy.context import RequestContext
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

_UNDECIDED = frozenset(
    {OnboardingStatus.PENDING, OnboardingStatus.PROCESSING, OnboardingStatus.EXPIRED}
)


# Customer columns the policy reads; their labels are ProfileInput's field names.
PROFILE_COLUMNS = (
    Customer.type.label("customer_type"),
    Customer.status,
    Customer.first_name,
    Customer.last_name,
    Customer.company_name,
    Customer.date_of_birth,
    Customer.nationality,
    Customer.country_of_residence,
    Customer.tax_country,
    Customer.occupation,
    Customer.source_of_funds,
    Customer.industry,
    Customer.incorporation_country,
    Customer.registration_number,
)
_PROFILE_FIELDS = tuple(c.key for c in PROFILE_COLUMNS)


def profile_of(source: Any) -> ProfileInput:
    """From a Customer, or a row of :data:`PROFILE_COLUMNS`."""
    if isinstance(source, Customer):
        values = {
            f: getattr(source, "type" if f == "customer_type" else f) for f in _PROFILE_FIELDS
        }
    else:
        values = {f: getattr(source, f) for f in _PROFILE_FIELDS}
    return ProfileInput(**values)


# The current run and, in the same round trip, the latest earlier approval
# (only consulted while the current run is undecided: an approved current run
# is the newest approval, and a denial overrides any). Built once, as the read
# path is the hottest call of the API: tenant and environment are bound
# parameters (scoped()'s filter) and the customer id was resolved in scope.
_earlier = aliased(VerificationSession)
_EARLIER_APPROVAL = (
    select(func.max(func.coalesce(_earlier.completed_at, _earlier.created_at)))
    .where(
        _earlier.customer_id == VerificationSession.customer_id,
        _earlier.status == SessionStatus.APPROVED.value,
        _earlier.id != VerificationSession.id,
    )
    .correlate(VerificationSession)
    .scalar_subquery()
)
_RUN_STATEMENT = (
    select(
        VerificationSession.level_name,
        VerificationSession.status,
        VerificationSession.created_at,
        VerificationSession.expires_at,
        VerificationSession.completed_at,
        _EARLIER_APPROVAL.label("earlier_approval_at"),
    )
    .where(
        VerificationSession.tenant_id == bindparam("tenant_id"),
        VerificationSession.environment == bindparam("environment"),
        VerificationSession.customer_id == bindparam("customer_id"),
    )
    .order_by(VerificationSession.created_at.desc(), VerificationSession.id.desc())
    .limit(1)
)


def run_inputs(
    db: Session, ctx: RequestContext, customer_id: str
) -> tuple[RunInput | None, datetime | None]:
    """The current run and the time of the latest earlier approved run."""
    row = db.execute(
        _RUN_STATEMENT,
        {"tenant_id": ctx.tenant_id, "environment": ctx.environment, "customer_id": customer_id},
    ).first()
    if row is None:
        return None, None
    status = ONBOARDING_STATUS_OF_SESSION.get(row.status, OnboardingStatus.PENDING)
    run = RunInput(
        level_name=row.level_name,
        onboarding_status=status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        approved_at=row.completed_at if status is OnboardingStatus.APPROVED else None,
    )
    earlier: datetime | None = row.earlier_approval_at if status in _UNDECIDED else None
    return run, earlier


def gather(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    profile: ProfileInput,
    addresses: tuple[AddressInput, ...],
) -> ComplianceInputs:
    """The customer's own data plus what the other domains' tables hold about
    it. Every source of the policy is read here (wire new domains here)."""
    run, earlier = run_inputs(db, ctx, customer_id)
    return ComplianceInputs(
        profile=profile, addresses=addresses, run=run, earlier_approval_at=earlier
    )


def load_inputs(db: Session, ctx: RequestContext, customer: Customer) -> ComplianceInputs:
    """Everything the policy reads about ``customer``, as the caller's
    transaction sees it (in-memory changes included)."""
    addresses = tuple(AddressInput(a.type, a.is_primary, a.country) for a in customer.addresses)
    return gather(db, ctx, customer.id, profile_of(customer), addresses)
