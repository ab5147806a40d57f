"""The compliance policy of seed 000: one pure function, no I/O.

:func:`evaluate` turns everything kycd knows about one customer
(:class:`ComplianceInputs`) and the tenant's :class:`PolicyConfig` into the
answer of ``GET /v1/compliance/status/{customerId}``: every check with whether
it passed and whether it is required, the onboarding status, and the one next
action. ``now`` is an argument, so the answer changes by itself when a document
or a verification ages past its validity, and tests can move the clock.

The rules are documented check by check in ``docs/compliance.md``; the
docstrings below say why they are as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class CheckType(StrEnum):
    KYC_DATA_PRESENT = "KYC_DATA_PRESENT"
    KYC_STARTED = "KYC_STARTED"
    SDK_VERIFICATION_COMPLETED = "SDK_VERIFICATION_COMPLETED"
    KYC_STATUS = "KYC_STATUS"
    REGISTRATION_ADDRESS = "REGISTRATION_ADDRESS"
    TAX_COUNTRY = "TAX_COUNTRY"
    OCCUPATION = "OCCUPATION"
    DOC_SOURCE_OF_FUNDS = "DOC_SOURCE_OF_FUNDS"
    DOC_FATCA = "DOC_FATCA"
    DOC_BIOMETRIC_REPORT = "DOC_BIOMETRIC_REPORT"
    DOC_PROOF_OF_ADDRESS = "DOC_PROOF_OF_ADDRESS"


class NextAction(StrEnum):
    NONE = "NONE"
    START_KYC = "START_KYC"
    COMPLETE_SDK_FLOW = "COMPLETE_SDK_FLOW"
    UPLOAD_DOCUMENT = "UPLOAD_DOCUMENT"
    UPDATE_PROFILE = "UPDATE_PROFILE"
    RERUN_KYC = "RERUN_KYC"
    WAIT = "WAIT"
    CONTACT_SUPPORT = "CONTACT_SUPPORT"


class OnboardingStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    APPROVED = "APPROVED"
    DENIED_COMPLIANCE = "DENIED_COMPLIANCE"
    DENIED_IDENTITY_THEFT = "DENIED_IDENTITY_THEFT"
    EXPIRED = "EXPIRED"


DENIED = frozenset({OnboardingStatus.DENIED_COMPLIANCE, OnboardingStatus.DENIED_IDENTITY_THEFT})

# nextAction is the most urgent suggestedAction among the failed required
# checks. Denials first (nothing the customer does helps), then whatever blocks
# the verification itself, then data the customer can fix alone, and waiting last.
ACTION_PRIORITY: tuple[NextAction, ...] = (
    NextAction.CONTACT_SUPPORT,
    NextAction.RERUN_KYC,
    NextAction.START_KYC,
    NextAction.COMPLETE_SDK_FLOW,
    NextAction.UPDATE_PROFILE,
    NextAction.UPLOAD_DOCUMENT,
    NextAction.WAIT,
)


class Requirement(StrEnum):
    """A tenant's override of whether a check is required."""

    DEFAULT = "default"  # the documented "required when" condition
    ALWAYS = "always"
    NEVER = "never"


class DocumentReview(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# Document and identifier types (seed 001's vocabulary: kycd.documents.types,
# kycd.identifiers.types; tests check the groups match theirs).
IDENTITY_DOCUMENT_TYPES = frozenset(
    {"ID_CARD", "PASSPORT", "DRIVERS_LICENSE", "NATIONAL_ID", "RESIDENCE_PERMIT"}
)
PROOF_OF_ADDRESS_TYPES = frozenset({"UTILITY_BILL", "BANK_STATEMENT", "PROOF_OF_ADDRESS"})
SOURCE_OF_FUNDS_TYPES = frozenset({"SOURCE_OF_FUNDS"})
FATCA_TYPES = frozenset({"FATCA_FORM"})
BIOMETRIC_TYPES = frozenset({"BIOMETRIC_REPORT"})

# Step kinds (seed 002) that produce biometric evidence or a proof of address.
BIOMETRIC_STEP_KINDS = frozenset({"liveness", "selfie"})
POA_STEP_KINDS = frozenset({"poa"})
SUBMITTED_STEP_STATUSES = frozenset(
    {"submitted", "in_review", "completed", "awaitingOperatorReview"}
)
REVIEWING_STEP_STATUSES = frozenset({"submitted", "in_review", "awaitingOperatorReview"})

# Customer lifecycle states (seed 001) that are an operator's refusal.
REFUSED_CUSTOMER_STATUSES = frozenset({"rejected"})


# ---------------------------------------------------------------------------
# Inputs: plain values, filled by kycd.compliance.inputs from every domain.


@dataclass(frozen=True)
class ProfileInput:
    customer_type: str = "individual"  # individual | business
    status: str = "pending"  # lifecycle status of seed 001 (lower case)
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    date_of_birth: date | None = None
    nationality: str | None = None
    country_of_residence: str | None = None
    tax_country: str | None = None
    occupation: str | None = None
    source_of_funds: str | None = None
    industry: str | None = None
    incorporation_country: str | None = None
    registration_number: str | None = None

    @property
    def is_business(self) -> bool:
        return self.customer_type == "business"


@dataclass(frozen=True)
class AddressInput:
    type: str  # residential | registered | business | mailing
    is_primary: bool
    country: str | None


@dataclass(frozen=True)
class IdentifierInput:
    document_type: str  # SSN, ITIN, PASSPORT, NATIONAL_ID, DRIVERS_LICENSE, TAX_ID, …
    expiry_date: date | None = None


@dataclass(frozen=True)
class DocumentInput:
    document_type: str  # ID_CARD, PASSPORT, UTILITY_BILL, FATCA_FORM, …
    expiry_date: date | None = None
    review: DocumentReview = DocumentReview.PENDING


@dataclass(frozen=True)
class StepInput:
    """One step of the current run, in seed 002's vocabulary."""

    kind: str
    optional: bool = False
    review_status: str = "pending"
    review_answer: str | None = None  # GREEN | RED | None
    review_reject_type: str | None = None  # FINAL | RETRY | EXPIRED
    reject_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunInput:
    """The customer's current (most recent) verification run."""

    level_name: str
    onboarding_status: OnboardingStatus
    created_at: datetime
    expires_at: datetime | None = None
    approved_at: datetime | None = None
    # Empty when the steps are not known; the run's onboarding status then decides.
    steps: tuple[StepInput, ...] = ()

    @property
    def step_kinds(self) -> frozenset[str]:
        return frozenset(s.kind for s in self.steps)


@dataclass(frozen=True)
class ProviderCheckInput:
    """A user check of seed 004 handed over by the tenant's own provider."""

    type: str  # KYC | POR | INSTRUMENT_FIT | COMPLIANCE
    status: str  # PASSED | FAILED | anything else is still pending
    check_confirmed_at: datetime | None = None
    document_expiration_date: date | None = None
    method: str | None = None


@dataclass(frozen=True)
class ScreeningInput:
    open_hits: int = 0  # not reviewed yet
    confirmed_hits: int = 0  # reviewed and confirmed, any topic
    confirmed_sanction_hits: int = 0  # the confirmed ones on a sanctions list


@dataclass(frozen=True)
class ComplianceInputs:
    profile: ProfileInput
    addresses: tuple[AddressInput, ...] = ()
    identifiers: tuple[IdentifierInput, ...] = ()
    documents: tuple[DocumentInput, ...] = ()
    run: RunInput | None = None
    # When the most recent approved run other than the current one was approved:
    # starting a refresh run must not undo an approval that is still valid.
    earlier_approval_at: datetime | None = None
    # The step kinds that earlier approval completed GREEN: its liveness or
    # proof of address keeps counting while a refresh run is under way.
    earlier_approval_green_kinds: frozenset[str] = frozenset()
    provider_checks: tuple[ProviderCheckInput, ...] = ()
    screening: ScreeningInput = field(default_factory=ScreeningInput)
    risk_level: str | None = None  # LOW | MEDIUM | HIGH


@dataclass(frozen=True)
class PolicyConfig:
    """A tenant's policy, from ``Tenant.settings["compliance"]``."""

    required: Mapping[CheckType, Requirement] = field(default_factory=dict)
    # Seed 004: a KYC check "must not be older than 24 months".
    kyc_validity_months: int = 24
    # When true a document counts only once accepted; pending ones mean WAIT.
    document_review_required: bool = False


# ---------------------------------------------------------------------------
# Result.


@dataclass(frozen=True)
class CheckResult:
    type: CheckType
    passed: bool
    required: bool
    suggested_action: NextAction | None  # None exactly when passed


@dataclass(frozen=True)
class ComplianceResult:
    is_compliant: bool
    onboarding_status: OnboardingStatus | None
    next_action: NextAction
    checks: tuple[CheckResult, ...]

    @property
    def passed_count(self) -> int:
        return sum(1 for c in self.checks if c.passed)

    @property
    def failed_count(self) -> int:
        return sum(1 for c in self.checks if not c.passed)

    @property
    def required_failed(self) -> list[str]:
        return [c.type.value for c in self.checks if c.required and not c.passed]

    def state(self) -> tuple[bool, str | None, str]:
        """What the ``compliance.status_changed`` event watches."""
        status = self.onboarding_status.value if self.onboarding_status else None
        return self.is_compliant, status, self.next_action.value


# ---------------------------------------------------------------------------
# Facts derived once from the inputs, shared by the rules.


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months; the 31st becomes the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def _expired(expiry: date | None, today: date) -> bool:
    # A document is valid through its expiry date.
    return expiry is not None and expiry < today


def _is_pending_check(check: ProviderCheckInput) -> bool:
    return check.status not in {"PASSED", "FAILED"}


class _DocState(StrEnum):
    VALID = "valid"
    IN_REVIEW = "in_review"
    MISSING = "missing"


class _StepState(StrEnum):
    ABSENT = "absent"  # no such step to rely on: only a document can pass the check
    GREEN = "green"
    TO_DO = "to_do"  # the applicant can still hand it in (the run is open)
    IN_REVIEW = "in_review"
    RERUN = "rerun"  # rejected RETRY, expired, or GREEN in an approval that lapsed
    DENIED = "denied"  # rejected FINAL: the run is denied


@dataclass(frozen=True)
class _Facts:
    inputs: ComplianceInputs
    config: PolicyConfig
    now: datetime
    today: date
    valid_approval: bool
    earlier_approval_valid: bool
    run_open: bool
    run_submitted: bool
    run_expired: bool
    run_retry: bool
    provider_kyc: tuple[ProviderCheckInput, ...]
    provider_kyc_failed_only: bool
    onboarding_status: OnboardingStatus | None

    def within_validity(self, moment: datetime | None) -> bool:
        return moment is not None and self.now < add_months(moment, self.config.kyc_validity_months)

    def documents(self, types: frozenset[str]) -> _DocState:
        state = _DocState.MISSING
        for doc in self.inputs.documents:
            if doc.document_type not in types or doc.review is DocumentReview.REJECTED:
                continue
            if _expired(doc.expiry_date, self.today):
                continue
            if doc.review is DocumentReview.ACCEPTED or not self.config.document_review_required:
                return _DocState.VALID
            state = _DocState.IN_REVIEW
        return state

    def steps(self, kinds: frozenset[str]) -> _StepState:
        """What the verification steps of ``kinds`` say about that evidence.

        An earlier approval that is still valid and completed one of them GREEN
        covers a refresh run. Otherwise the current run's *required* steps of
        those kinds decide (all of its steps of those kinds when the level has
        them only as optional steps, for a tenant requiring the check always).
        """
        inputs = self.inputs
        if self.earlier_approval_valid and kinds & inputs.earlier_approval_green_kinds:
            return _StepState.GREEN
        run = inputs.run
        relevant = [s for s in run.steps if s.kind in kinds] if run else []
        steps = [s for s in relevant if not s.optional] or relevant
        if run is None or not steps:
            return _StepState.ABSENT
        if all(s.review_status == "completed" and s.review_answer == "GREEN" for s in steps):
            # Evidence ages like the approval it belongs to.
            fresh = self.within_validity(run.approved_at or run.created_at)
            return _StepState.GREEN if fresh else _StepState.RERUN
        if any(s.review_answer == "RED" and s.review_reject_type == "FINAL" for s in steps):
            return _StepState.DENIED
        if self.run_expired or any(
            s.review_status == "expired" or s.review_answer == "RED" for s in steps
        ):
            return _StepState.RERUN
        if any(s.review_status == "pending" for s in steps):
            # A step left pending in a closed run (an optional one in an approved
            # run) cannot be handed in any more: only a document can help.
            return _StepState.TO_DO if self.run_open else _StepState.ABSENT
        return _StepState.IN_REVIEW

    def passed_provider(self, check_type: str) -> list[ProviderCheckInput]:
        """PASSED provider checks of one type that are still within validity."""
        return [
            c
            for c in self.inputs.provider_checks
            if c.type == check_type
            and c.status == "PASSED"
            and self.within_validity(c.check_confirmed_at)
            and not _expired(c.document_expiration_date, self.today)
        ]


# Steps kycd runs itself (screening), not the applicant: the SDK flow is
# complete without them, exactly as the verification domain's
# enrollment.completed ignores them.
SYSTEM_STEP_KINDS = frozenset({"aml", "adverse_media"})


def _run_submitted(run: RunInput) -> bool:
    """Every required step the applicant hands in has left ``pending``; without
    steps, the run has left PENDING (the review domain rolled it up)."""
    if run.steps:
        return all(
            s.optional or s.kind in SYSTEM_STEP_KINDS or s.review_status in SUBMITTED_STEP_STATUSES
            for s in run.steps
        )
    return run.onboarding_status is not OnboardingStatus.PENDING


def _run_expired(run: RunInput, submitted: bool, now: datetime) -> bool:
    if run.onboarding_status is OnboardingStatus.EXPIRED:
        return True
    if any(s.review_status == "expired" or s.review_reject_type == "EXPIRED" for s in run.steps):
        return True
    # The TTL sweep may not have run yet: the read is right at the moment of the read.
    return (
        run.onboarding_status is OnboardingStatus.PENDING
        and not submitted
        and run.expires_at is not None
        and now >= run.expires_at
    )


def _identity_evidence_expired(inputs: ComplianceInputs, today: date) -> bool:
    """Identity documents are on file and every one of them has expired."""
    expiries = [
        d.expiry_date
        for d in inputs.documents
        if d.document_type in IDENTITY_DOCUMENT_TYPES and d.review is not DocumentReview.REJECTED
    ] + [i.expiry_date for i in inputs.identifiers if i.document_type in IDENTITY_DOCUMENT_TYPES]
    return bool(expiries) and all(_expired(e, today) for e in expiries)


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _latest(checks: Iterable[ProviderCheckInput]) -> ProviderCheckInput | None:
    ordered = sorted(checks, key=lambda c: c.check_confirmed_at or _EPOCH)
    return ordered[-1] if ordered else None


def _denial(inputs: ComplianceInputs) -> OnboardingStatus | None:
    run = inputs.run
    if run is not None and run.onboarding_status in DENIED:
        return run.onboarding_status
    if inputs.profile.status in REFUSED_CUSTOMER_STATUSES:
        return OnboardingStatus.DENIED_COMPLIANCE
    if inputs.screening.confirmed_sanction_hits > 0:
        return OnboardingStatus.DENIED_COMPLIANCE
    latest = _latest(c for c in inputs.provider_checks if c.type == "COMPLIANCE")
    if latest is not None and latest.status == "FAILED":
        return OnboardingStatus.DENIED_COMPLIANCE
    return None


def _facts(inputs: ComplianceInputs, config: PolicyConfig, now: datetime) -> _Facts:
    today = now.date()
    run = inputs.run
    submitted = run is not None and _run_submitted(run)
    expired = run is not None and _run_expired(run, submitted, now)
    retry = run is not None and any(
        s.review_answer == "RED" and s.review_reject_type == "RETRY" for s in run.steps
    )
    provider_kyc = tuple(c for c in inputs.provider_checks if c.type == "KYC")

    def within(moment: datetime | None) -> bool:
        return moment is not None and now < add_months(moment, config.kyc_validity_months)

    approvals: list[bool] = []  # one validity flag per approval on record
    if run is not None and run.onboarding_status is OnboardingStatus.APPROVED:
        approvals.append(within(run.approved_at or run.created_at))
    earlier_valid = within(inputs.earlier_approval_at)
    if inputs.earlier_approval_at is not None:
        approvals.append(earlier_valid)
    for check in provider_kyc:
        if check.status == "PASSED":
            approvals.append(
                within(check.check_confirmed_at)
                and not _expired(check.document_expiration_date, today)
            )
    valid = any(approvals) and not _identity_evidence_expired(inputs, today)
    lapsed = bool(approvals) and not valid
    failed_only = (
        run is None and bool(provider_kyc) and all(c.status == "FAILED" for c in provider_kyc)
    )
    latest_compliance = _latest(c for c in inputs.provider_checks if c.type == "COMPLIANCE")
    screening_pending = inputs.screening.open_hits > 0 or (
        latest_compliance is not None and _is_pending_check(latest_compliance)
    )
    status = _onboarding_status(
        run,
        denial=_denial(inputs),
        valid=valid,
        lapsed=lapsed,
        run_expired=expired,
        screening_pending=screening_pending,
        provider_pending=any(_is_pending_check(c) for c in provider_kyc),
        provider_failed_only=failed_only,
    )
    return _Facts(
        inputs=inputs,
        config=config,
        now=now,
        today=today,
        valid_approval=valid,
        earlier_approval_valid=earlier_valid,
        run_open=run is not None
        and not expired
        and run.onboarding_status in {OnboardingStatus.PENDING, OnboardingStatus.PROCESSING},
        run_submitted=submitted,
        run_expired=expired,
        run_retry=retry,
        provider_kyc=provider_kyc,
        provider_kyc_failed_only=failed_only,
        onboarding_status=status,
    )


def _onboarding_status(
    run: RunInput | None,
    *,
    denial: OnboardingStatus | None,
    valid: bool,
    lapsed: bool,
    run_expired: bool,
    screening_pending: bool,
    provider_pending: bool,
    provider_failed_only: bool,
) -> OnboardingStatus | None:
    """The first that applies: denied; approved (processing while screening is
    open); the current run's own state (a refresh run under way says more than
    the approval that lapsed before it); a lapsed approval; nothing."""
    if denial is not None:
        return denial
    if valid:
        return OnboardingStatus.PROCESSING if screening_pending else OnboardingStatus.APPROVED
    if run_expired:
        return OnboardingStatus.EXPIRED
    if (
        run is not None and run.onboarding_status is OnboardingStatus.PROCESSING
    ) or provider_pending:
        return OnboardingStatus.PROCESSING
    if run is not None and run.onboarding_status is OnboardingStatus.PENDING:
        return OnboardingStatus.PENDING
    if lapsed:
        return OnboardingStatus.EXPIRED
    if provider_failed_only:
        return OnboardingStatus.PENDING
    return None


# ---------------------------------------------------------------------------
# The rules: one per check type, each "(passed, suggestedAction)" plus the
# default "required when" condition.

Outcome = tuple[bool, NextAction]


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _kyc_data_present(f: _Facts) -> Outcome:
    p = f.inputs.profile
    if p.is_business:
        needed: tuple[object, ...] = (
            p.company_name,
            p.incorporation_country,
            p.registration_number,
        )
    else:
        needed = (p.first_name, p.last_name, p.date_of_birth, p.nationality)
    present = all(v is not None and not (isinstance(v, str) and _blank(v)) for v in needed)
    return present, NextAction.UPDATE_PROFILE


def _kyc_started(f: _Facts) -> Outcome:
    started = f.inputs.run is not None or bool(f.provider_kyc) or f.valid_approval
    return started, NextAction.START_KYC


def _sdk_completed(f: _Facts) -> Outcome:
    done = (
        f.valid_approval
        or bool(f.provider_kyc)
        or (f.inputs.run is not None and f.run_submitted and not f.run_expired)
    )
    if f.inputs.run is None:
        return done, NextAction.START_KYC
    return done, NextAction.RERUN_KYC if f.run_expired else NextAction.COMPLETE_SDK_FLOW


def _kyc_status(f: _Facts) -> Outcome:
    status = f.onboarding_status
    if status is OnboardingStatus.APPROVED:
        return True, NextAction.NONE
    if status in DENIED:
        return False, NextAction.CONTACT_SUPPORT
    if status is OnboardingStatus.EXPIRED or f.run_retry or f.provider_kyc_failed_only:
        return False, NextAction.RERUN_KYC
    if status is OnboardingStatus.PROCESSING:
        return False, NextAction.WAIT
    if status is OnboardingStatus.PENDING:
        return False, NextAction.COMPLETE_SDK_FLOW
    return False, NextAction.START_KYC


def _registration_address(f: _Facts) -> Outcome:
    ok = any(
        a.is_primary and a.type != "mailing" and not _blank(a.country) for a in f.inputs.addresses
    )
    return ok, NextAction.UPDATE_PROFILE


def _tax_country(f: _Facts) -> Outcome:
    p = f.inputs.profile
    country = p.tax_country or (p.incorporation_country if p.is_business else None)
    return not _blank(country), NextAction.UPDATE_PROFILE


def _occupation(f: _Facts) -> Outcome:
    p = f.inputs.profile
    return not _blank(p.industry if p.is_business else p.occupation), NextAction.UPDATE_PROFILE


def _document_outcome(state: _DocState) -> Outcome:
    if state is _DocState.VALID:
        return True, NextAction.NONE
    return False, NextAction.WAIT if state is _DocState.IN_REVIEW else NextAction.UPLOAD_DOCUMENT


_STEP_ACTIONS = {
    _StepState.TO_DO: NextAction.COMPLETE_SDK_FLOW,
    _StepState.RERUN: NextAction.RERUN_KYC,
    _StepState.DENIED: NextAction.CONTACT_SUPPORT,
}


def _evidence_outcome(f: _Facts, doc_types: frozenset[str], step_kinds: frozenset[str]) -> Outcome:
    """A document on file, or a verification step for the same evidence."""
    docs, steps = f.documents(doc_types), f.steps(step_kinds)
    if docs is _DocState.VALID or steps is _StepState.GREEN:
        return True, NextAction.NONE
    if docs is _DocState.IN_REVIEW or steps is _StepState.IN_REVIEW:
        return False, NextAction.WAIT
    return False, _STEP_ACTIONS.get(steps, NextAction.UPLOAD_DOCUMENT)


def _doc_source_of_funds(f: _Facts) -> Outcome:
    return _document_outcome(f.documents(SOURCE_OF_FUNDS_TYPES))


def _doc_fatca(f: _Facts) -> Outcome:
    return _document_outcome(f.documents(FATCA_TYPES))


def _doc_biometric_report(f: _Facts) -> Outcome:
    # A provider's video identification includes the liveness check (seed 004, method VIDEO_ID).
    if any(c.method == "VIDEO_ID" for c in f.passed_provider("KYC")):
        return True, NextAction.NONE
    return _evidence_outcome(f, BIOMETRIC_TYPES, BIOMETRIC_STEP_KINDS)


def _doc_proof_of_address(f: _Facts) -> Outcome:
    if f.passed_provider("POR"):
        return True, NextAction.NONE
    return _evidence_outcome(f, PROOF_OF_ADDRESS_TYPES, POA_STEP_KINDS)


def _always(_f: _Facts) -> bool:
    return True


def _high_risk_or_confirmed_hit(f: _Facts) -> bool:
    # Enhanced due diligence: a HIGH risk level, or a confirmed watchlist hit
    # (a PEP, say) whose wealth has to be explained.
    return f.inputs.risk_level == "HIGH" or f.inputs.screening.confirmed_hits > 0


def _us_indicia(f: _Facts) -> bool:
    p = f.inputs.profile
    countries = {p.nationality, p.tax_country}
    if p.is_business:
        countries.add(p.incorporation_country)
    countries.update(a.country for a in f.inputs.addresses if a.is_primary)
    return "US" in countries


def _level_requires(kinds: frozenset[str]) -> Callable[[_Facts], bool]:
    """The current run's level has a required step of ``kinds``: an optional
    step (KYC_01's ``poa``) makes its evidence welcome, not required."""

    def condition(f: _Facts) -> bool:
        run = f.inputs.run
        return run is not None and any(s.kind in kinds and not s.optional for s in run.steps)

    return condition


@dataclass(frozen=True)
class Rule:
    check: Callable[[_Facts], Outcome]
    required_when: Callable[[_Facts], bool]


RULES: dict[CheckType, Rule] = {
    CheckType.KYC_DATA_PRESENT: Rule(_kyc_data_present, _always),
    CheckType.KYC_STARTED: Rule(_kyc_started, _always),
    CheckType.SDK_VERIFICATION_COMPLETED: Rule(_sdk_completed, _always),
    CheckType.KYC_STATUS: Rule(_kyc_status, _always),
    CheckType.REGISTRATION_ADDRESS: Rule(_registration_address, _always),
    CheckType.TAX_COUNTRY: Rule(_tax_country, _always),
    CheckType.OCCUPATION: Rule(_occupation, _always),
    CheckType.DOC_SOURCE_OF_FUNDS: Rule(_doc_source_of_funds, _high_risk_or_confirmed_hit),
    CheckType.DOC_FATCA: Rule(_doc_fatca, _us_indicia),
    CheckType.DOC_BIOMETRIC_REPORT: Rule(
        _doc_biometric_report, _level_requires(BIOMETRIC_STEP_KINDS)
    ),
    CheckType.DOC_PROOF_OF_ADDRESS: Rule(_doc_proof_of_address, _level_requires(POA_STEP_KINDS)),
}


def _is_required(check_type: CheckType, rule: Rule, facts: _Facts) -> bool:
    requirement = facts.config.required.get(check_type, Requirement.DEFAULT)
    if requirement is Requirement.ALWAYS:
        return True
    if requirement is Requirement.NEVER:
        return False
    return rule.required_when(facts)


def next_action(checks: Iterable[CheckResult]) -> NextAction:
    wanted = {c.suggested_action for c in checks if c.required and not c.passed}
    for action in ACTION_PRIORITY:
        if action in wanted:
            return action
    return NextAction.NONE


def evaluate(inputs: ComplianceInputs, config: PolicyConfig, now: datetime) -> ComplianceResult:
    """The compliance status of one customer at ``now`` (timezone-aware)."""
    facts = _facts(inputs, config, now)
    checks = []
    for check_type, rule in RULES.items():
        passed, action = rule.check(facts)
        checks.append(
            CheckResult(
                type=check_type,
                passed=passed,
                required=_is_required(check_type, rule, facts),
                suggested_action=None if passed else action,
            )
        )
    return ComplianceResult(
        is_compliant=all(c.passed for c in checks if c.required),
        onboarding_status=facts.onboarding_status,
        next_action=next_action(checks),
        checks=tuple(checks),
    )


def _day_after(expiry: date) -> datetime:
    # ``_expired`` compares with the UTC date: the day after expiry, from midnight.
    return datetime.combine(expiry + timedelta(days=1), time.min, tzinfo=UTC)


def changes_by_time_at(
    inputs: ComplianceInputs, config: PolicyConfig, now: datetime
) -> datetime | None:
    """The first moment after ``now`` at which :func:`evaluate` may answer
    differently with the same inputs: time alone (a document expiring, an
    approval or check ageing past ``kyc_validity_months``, an unfinished run
    reaching its TTL). ``None`` when no input ages.

    Every moment the rules compare ``now`` with is listed, whether or not it
    matters today: an early answer only costs one re-evaluation, a late one
    would serve a stale status. ``tests/compliance/test_policy.py`` checks the
    rules against it, so a new time-dependent rule must add its moment here.
    """
    months = config.kyc_validity_months
    moments: list[datetime] = []
    run = inputs.run
    if run is not None:
        moments.append(add_months(run.approved_at or run.created_at, months))
        if run.expires_at is not None and run.onboarding_status is OnboardingStatus.PENDING:
            moments.append(run.expires_at)  # only an unfinished run expires by its TTL
    if inputs.earlier_approval_at is not None:
        moments.append(add_months(inputs.earlier_approval_at, months))
    for check in inputs.provider_checks:
        if check.check_confirmed_at is not None:
            moments.append(add_months(check.check_confirmed_at, months))
        if check.document_expiration_date is not None:
            moments.append(_day_after(check.document_expiration_date))
    expiries = [d.expiry_date for d in inputs.documents] + [
        i.expiry_date for i in inputs.identifiers
    ]
    moments.extend(_day_after(e) for e in expiries if e is not None)
    return min((m for m in moments if m > now), default=None)
