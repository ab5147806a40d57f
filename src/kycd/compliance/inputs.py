"""Gathering one customer's :class:`ComplianceInputs` from the database.

Every source of the policy is read in :func:`gather`, the one place to wire a
new domain:

* ``profile`` and ``addresses``: the customer row (``kycd.customers``);
* ``run``: the verification domain's view of the current run, its steps and
  its rolled-up ``onboardingStatus`` (``kycd.verification``), and
  ``earlier_approval_at`` from earlier approved sessions;
* ``identifiers`` and ``documents``: ``kycd.identifiers`` and ``kycd.documents``;
* ``provider_checks``: the user checks of seed 004 (``kycd.checks``);
* ``screening``: open and confirmed hits (``kycd.screening``);
* ``risk_level``: the current risk profile (``kycd.risk``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kycd.compliance.policy import (
    AddressInput,
    ComplianceInputs,
    OnboardingStatus,
    ProfileInput,
    RunInput,
    StepInput,
)
from kycd.customers.models import Customer
from kycd.tenancy.context import RequestContext
from kycd.verification import service as verification
from kycd.verification.models import SessionStatus, VerificationSession

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


# The latest approval before the current run (only consulted while the current
# run is undecided: an approved current run is the newest approval, and a
# denial overrides any). Built once, as the read path is the hottest call of
# the API: tenant and environment are bound parameters (scoped()'s filter) and
# the customer id was resolved in scope.
_EARLIER_APPROVAL_STATEMENT = select(
    func.max(func.coalesce(VerificationSession.completed_at, VerificationSession.created_at))
).where(
    VerificationSession.tenant_id == bindparam("tenant_id"),
    VerificationSession.environment == bindparam("environment"),
    VerificationSession.customer_id == bindparam("customer_id"),
    VerificationSession.status == SessionStatus.APPROVED.value,
    VerificationSession.id != bindparam("current_id"),
)


def run_inputs(
    db: Session, ctx: RequestContext, customer_id: str
) -> tuple[RunInput | None, datetime | None]:
    """The current run, rolled up by the verification domain, and the time of
    the latest earlier approved run."""
    view = verification.current_run_view(db, ctx, customer_id)
    if view is None:
        return None, None
    status = OnboardingStatus(view.onboarding_status)
    run = RunInput(
        level_name=view.level_name,
        onboarding_status=status,
        created_at=view.created_at,
        expires_at=view.expires_at,
        approved_at=view.completed_at if status is OnboardingStatus.APPROVED else None,
        steps=tuple(
            StepInput(
                kind=s.kind,
                optional=s.optional,
                review_status=s.review_status,
                review_answer=s.review_answer,
                review_reject_type=s.review_reject_type,
                reject_labels=s.reject_labels,
            )
            for s in view.steps
        ),
    )
    if status not in _UNDECIDED:
        return run, None
    earlier = db.execute(
        _EARLIER_APPROVAL_STATEMENT,
        {
            "tenant_id": ctx.tenant_id,
            "environment": ctx.environment,
            "customer_id": customer_id,
            "current_id": view.session_id,
        },
    ).scalar()
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
