"""Gathering customers' :class:`ComplianceInputs` from the database, with one
query per source for any number of customers (one, for a status read; a
re-screen batch's hundred, at its commit).

Every source of the policy is read in :func:`gather`, the one place to wire a
new domain:

* ``profile`` and ``addresses``: the customer row (``kycd.customers``);
* ``run``: the verification domain's view of the current run, its steps and
  its rolled-up ``onboardingStatus`` (``kycd.verification``), and
  ``earlier_approval_at`` / ``earlier_approval_green_kinds`` from the latest
  earlier approved session;
* ``identifiers`` (active ones) and ``documents`` (with their review state):
  ``kycd.identifiers`` and ``kycd.documents`` (seed 001);
* ``provider_checks``: the user checks of seed 004 (``kycd.checks``), all of
  them: the policy picks the types and statuses it reads;
* ``screening``: open and confirmed hits (``kycd.screening``);
* ``risk_level``: the stored risk profile's level (``kycd.risk``), which risk
  recalculates in the writer's transaction whenever its inputs change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from kycd.checks import service as checks
from kycd.checks.models import UserCheck
from kycd.compliance.policy import (
    AddressInput,
    ComplianceInputs,
    DocumentInput,
    DocumentReview,
    IdentifierInput,
    OnboardingStatus,
    ProfileInput,
    ProviderCheckInput,
    RunInput,
    ScreeningInput,
    StepInput,
)
from kycd.customers.models import Customer
from kycd.documents import service as document_service
from kycd.documents.models import Document
from kycd.documents.types import ReviewStatus as DocumentReviewStatus
from kycd.identifiers import service as identifier_service
from kycd.identifiers.models import Identifier
from kycd.identifiers.types import IdentifierStatus
from kycd.risk import service as risk
from kycd.screening.models import Hit, HitStatus
from kycd.screening.service import SANCTION_TOPICS
from kycd.tenancy.context import RequestContext
from kycd.verification import service as verification
from kycd.verification.models import SessionStatus, VerificationSession, VerificationStep

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


# The latest approval before the current run, with the step kinds it completed
# GREEN (one row per such step). Only consulted while the current run is
# undecided: an approved current run is the newest approval, and a denial
# overrides any. Built once, as the read path is the hottest call of the API:
# tenant and environment are bound parameters (scoped()'s filter) and the
# customer id was resolved in scope.
_APPROVED_AT = func.coalesce(VerificationSession.completed_at, VerificationSession.created_at)
_LATEST_EARLIER_APPROVAL = (
    select(VerificationSession.id)
    .where(
        VerificationSession.tenant_id == bindparam("tenant_id"),
        VerificationSession.environment == bindparam("environment"),
        VerificationSession.customer_id == bindparam("customer_id"),
        VerificationSession.status == SessionStatus.APPROVED.value,
        VerificationSession.id != bindparam("current_id"),
    )
    .order_by(_APPROVED_AT.desc(), VerificationSession.id.desc())
    .limit(1)
    .scalar_subquery()
)
_EARLIER_APPROVAL_STATEMENT = (
    select(_APPROVED_AT, VerificationStep.kind)
    .select_from(VerificationSession)
    .outerjoin(
        VerificationStep,
        and_(
            VerificationStep.session_id == VerificationSession.id,
            VerificationStep.review_status == "completed",
            VerificationStep.review_answer == "GREEN",
        ),
    )
    .where(VerificationSession.id == _LATEST_EARLIER_APPROVAL)
)


@dataclass(frozen=True)
class RunInputs:
    run: RunInput | None
    earlier_approval_at: datetime | None = None
    earlier_approval_green_kinds: frozenset[str] = frozenset()


def run_inputs(view: verification.RunView | None, earlier: EarlierApprovals) -> RunInputs:
    """The current run, rolled up by the verification domain, and the latest
    earlier approved run (when and which steps it completed GREEN)."""
    if view is None:
        return RunInputs(None)
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
        return RunInputs(run)
    approved_at, kinds = earlier(view.customer_id, view.session_id)
    return RunInputs(run, approved_at, kinds)


@dataclass(frozen=True)
class EarlierApprovals:
    """Looks up the latest approval before a customer's current run (only
    needed while that run is undecided, so looked up one customer at a time)."""

    db: Session
    ctx: RequestContext

    def __call__(self, customer_id: str, current_id: str) -> tuple[datetime | None, frozenset[str]]:
        rows = self.db.execute(
            _EARLIER_APPROVAL_STATEMENT,
            {
                "tenant_id": self.ctx.tenant_id,
                "environment": self.ctx.environment,
                "customer_id": customer_id,
                "current_id": current_id,
            },
        ).all()
        if not rows:
            return None, frozenset()
        return rows[0][0], frozenset(kind for _, kind in rows if kind is not None)


def provider_check(c: UserCheck) -> ProviderCheckInput:
    """A user check of seed 004; ACCEPTED and VALIDATED ones are pending."""
    return ProviderCheckInput(
        type=c.type,
        status=c.status,
        check_confirmed_at=c.check_confirmed_at,
        document_expiration_date=c.document_expiration_date,
        method=c.method,
    )


# The documents domain's review states, in the policy's words.
_DOCUMENT_REVIEW = {
    DocumentReviewStatus.PENDING.value: DocumentReview.PENDING,
    DocumentReviewStatus.APPROVED.value: DocumentReview.ACCEPTED,
    DocumentReviewStatus.REJECTED.value: DocumentReview.REJECTED,
}


def document(d: Document) -> DocumentInput:
    return DocumentInput(d.type, d.expiry_date, _DOCUMENT_REVIEW[d.review_status])


def identifiers(rows: list[Identifier]) -> tuple[IdentifierInput, ...]:
    """Active identifiers (a deleted one is gone; an inactive one is not relied on)."""
    return tuple(
        IdentifierInput(i.document_type, i.expiry_date)
        for i in rows
        if i.status == IdentifierStatus.ACTIVE.value
    )


def screening_input(db: Session, ctx: RequestContext, customer_id: str) -> ScreeningInput:
    return screening_inputs(db, ctx, [customer_id])[customer_id]


def screening_inputs(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, ScreeningInput]:
    """Open and confirmed active hits, and the confirmed ones on a sanctions
    list (by the list entity's topics, as ``kycd.screening.service.hit_summary``
    classifies them). One query: this is on the status read's path."""
    hits: dict[str, list[tuple[str, list[str]]]] = {customer_id: [] for customer_id in customer_ids}
    for customer_id, status, topics in db.execute(
        select(Hit.customer_id, Hit.status, Hit.topics).where(
            Hit.tenant_id == ctx.tenant_id,
            Hit.environment == ctx.environment,
            Hit.customer_id.in_(list(hits)),
            Hit.active.is_(True),
        )
    ):
        hits[customer_id].append((status, topics or []))
    return {customer_id: _screening_input(rows) for customer_id, rows in hits.items()}


def _screening_input(rows: list[tuple[str, list[str]]]) -> ScreeningInput:
    confirmed = [topics for status, topics in rows if status == HitStatus.CONFIRMED.value]
    return ScreeningInput(
        open_hits=sum(1 for status, _ in rows if status == HitStatus.OPEN.value),
        confirmed_hits=len(confirmed),
        confirmed_sanction_hits=sum(
            1 for topics in confirmed if any(t.startswith(SANCTION_TOPICS) for t in topics)
        ),
    )


@dataclass(frozen=True)
class OwnData:
    """What the customer's own row holds: its profile and addresses."""

    profile: ProfileInput
    addresses: tuple[AddressInput, ...]


def gather(
    db: Session, ctx: RequestContext, own: Mapping[str, OwnData]
) -> dict[str, ComplianceInputs]:
    """Each customer's own data plus what the other domains' tables hold about
    it, with one query per source for all of them (a write's commit hook
    refreshes a re-screen's hundred customers at once). Every source of the
    policy is read here (wire new domains here)."""
    ids = list(own)
    views = verification.current_run_views(db, ctx, ids)
    earlier = EarlierApprovals(db, ctx)
    held_identifiers = identifier_service.identifiers_by_customer(db, ctx, ids)
    held_documents = document_service.documents_by_customer(db, ctx, ids)
    held_checks = checks.checks_by_customer(db, ctx, ids)
    screened = screening_inputs(db, ctx, ids)
    risk_levels = risk.current_risk_levels(db, ctx, ids)
    gathered: dict[str, ComplianceInputs] = {}
    for customer_id, data in own.items():
        runs = run_inputs(views.get(customer_id), earlier)
        gathered[customer_id] = ComplianceInputs(
            profile=data.profile,
            addresses=data.addresses,
            identifiers=identifiers(held_identifiers[customer_id]),
            documents=tuple(document(d) for d in held_documents[customer_id]),
            run=runs.run,
            earlier_approval_at=runs.earlier_approval_at,
            earlier_approval_green_kinds=runs.earlier_approval_green_kinds,
            provider_checks=tuple(provider_check(c) for c in held_checks[customer_id]),
            screening=screened[customer_id],
            risk_level=risk_levels.get(customer_id),
        )
    return gathered
