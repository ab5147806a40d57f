"""The compliance policy, table-driven: every check type passing and failing,
every requirement condition, every onboardingStatus and every nextAction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from kycd.compliance.policy import (
    AddressInput,
    CheckType,
    ComplianceInputs,
    DocumentInput,
    DocumentReview,
    IdentifierInput,
    NextAction,
    OnboardingStatus,
    PolicyConfig,
    ProfileInput,
    ProviderCheckInput,
    Requirement,
    RunInput,
    ScreeningInput,
    StepInput,
    add_months,
    changes_by_time_at,
    evaluate,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
DAY = timedelta(days=1)

C = CheckType
A = NextAction
S = OnboardingStatus

PERSON = ProfileInput(
    first_name="Ada",
    last_name="Lovelace",
    date_of_birth=date(1985, 12, 10),
    nationality="DE",
    tax_country="DE",
    occupation="Engineer",
)
COMPANY = ProfileInput(
    customer_type="business",
    company_name="Analytical Engines GmbH",
    incorporation_country="DE",
    registration_number="HRB 12345",
    industry="Software",
)
HOME = AddressInput("residential", True, "DE")


def green(kind: str) -> StepInput:
    return StepInput(kind, review_status="completed", review_answer="GREEN")


def step(kind: str, status: str, answer: str | None = None, reject: str | None = None) -> StepInput:
    return StepInput(kind, review_status=status, review_answer=answer, review_reject_type=reject)


def run(status: OnboardingStatus = S.APPROVED, *steps: StepInput, **kw: Any) -> RunInput:
    values: dict[str, Any] = {
        "level_name": "KYC_01",
        "onboarding_status": status,
        "created_at": NOW - 10 * DAY,
        "expires_at": NOW + 5 * DAY,
        "approved_at": NOW - 9 * DAY if status is S.APPROVED else None,
        "steps": steps,
    }
    values.update(kw)
    return RunInput(**values)


def kyc_check(status: str = "PASSED", **kw: Any) -> ProviderCheckInput:
    values: dict[str, Any] = {
        "type": "KYC",
        "status": status,
        "check_confirmed_at": NOW - 30 * DAY,
        "document_expiration_date": date(2030, 1, 1),
        "method": "VIDEO_ID",
    }
    values.update(kw)
    return ProviderCheckInput(**values)


def check(type_: str, status: str = "PASSED", age: timedelta = 30 * DAY) -> ProviderCheckInput:
    return ProviderCheckInput(type_, status, check_confirmed_at=NOW - age)


def doc(type_: str, expiry: date | None = None, review: str = "pending") -> DocumentInput:
    return DocumentInput(type_, expiry, DocumentReview(review))


def months_ago(months: int) -> datetime:
    return add_months(NOW, -months)


# The compliant individual every case starts from: a full profile, a primary
# home address, and a run of KYC_01 (identity document and selfie) approved.
BASE = ComplianceInputs(
    profile=PERSON,
    addresses=(HOME,),
    run=run(S.APPROVED, green("identity_doc"), green("selfie")),
)


def with_(base: ComplianceInputs = BASE, **changes: Any) -> ComplianceInputs:
    return replace(base, **changes)


def profile(**changes: Any) -> ComplianceInputs:
    return with_(profile=replace(PERSON, **changes))


REVIEWED = PolicyConfig(document_review_required=True)
DEFAULT = PolicyConfig()

# (id, inputs, config, check type, passed, required, suggestedAction)
# fmt: off
CHECK_CASES: list[tuple[str, ComplianceInputs, PolicyConfig, CheckType, bool, bool, A | None]] = [
    # KYC_DATA_PRESENT
    ("data: full person", BASE, DEFAULT, C.KYC_DATA_PRESENT, True, True, None),
    ("data: no birth date", profile(date_of_birth=None), DEFAULT, C.KYC_DATA_PRESENT, False, True, A.UPDATE_PROFILE),
    ("data: blank first name", profile(first_name="  "), DEFAULT, C.KYC_DATA_PRESENT, False, True, A.UPDATE_PROFILE),
    ("data: no nationality", profile(nationality=None), DEFAULT, C.KYC_DATA_PRESENT, False, True, A.UPDATE_PROFILE),
    ("data: full company", with_(profile=COMPANY), DEFAULT, C.KYC_DATA_PRESENT, True, True, None),
    ("data: company without register no.", with_(profile=replace(COMPANY, registration_number=None)), DEFAULT, C.KYC_DATA_PRESENT, False, True, A.UPDATE_PROFILE),
    # KYC_STARTED
    ("started: a run", with_(run=run(S.PENDING)), DEFAULT, C.KYC_STARTED, True, True, None),
    ("started: a provider check only", with_(run=None, provider_checks=(kyc_check("ACCEPTED"),)), DEFAULT, C.KYC_STARTED, True, True, None),
    ("started: nothing", with_(run=None), DEFAULT, C.KYC_STARTED, False, True, A.START_KYC),
    # SDK_VERIFICATION_COMPLETED
    ("sdk: approved run", BASE, DEFAULT, C.SDK_VERIFICATION_COMPLETED, True, True, None),
    ("sdk: steps all submitted", with_(run=run(S.PROCESSING, step("identity_doc", "in_review"), step("selfie", "submitted"))), DEFAULT, C.SDK_VERIFICATION_COMPLETED, True, True, None),
    ("sdk: optional step may stay pending", with_(run=run(S.PROCESSING, step("identity_doc", "submitted"), replace(step("questionnaire", "pending"), optional=True))), DEFAULT, C.SDK_VERIFICATION_COMPLETED, True, True, None),
    ("sdk: a step still pending", with_(run=run(S.PENDING, step("identity_doc", "submitted"), step("selfie", "pending"))), DEFAULT, C.SDK_VERIFICATION_COMPLETED, False, True, A.COMPLETE_SDK_FLOW),
    ("sdk: no steps known, run processing", with_(run=run(S.PROCESSING)), DEFAULT, C.SDK_VERIFICATION_COMPLETED, True, True, None),
    ("sdk: no steps known, run pending", with_(run=run(S.PENDING)), DEFAULT, C.SDK_VERIFICATION_COMPLETED, False, True, A.COMPLETE_SDK_FLOW),
    ("sdk: run past its TTL", with_(run=run(S.PENDING, step("identity_doc", "pending"), expires_at=NOW - DAY)), DEFAULT, C.SDK_VERIFICATION_COMPLETED, False, True, A.RERUN_KYC),
    ("sdk: no run", with_(run=None), DEFAULT, C.SDK_VERIFICATION_COMPLETED, False, True, A.START_KYC),
    ("sdk: provider KYC instead of a run", with_(run=None, provider_checks=(kyc_check(),)), DEFAULT, C.SDK_VERIFICATION_COMPLETED, True, True, None),
    # KYC_STATUS
    ("status: approved run", BASE, DEFAULT, C.KYC_STATUS, True, True, None),
    ("status: approved 23 months ago", with_(run=run(approved_at=months_ago(23))), DEFAULT, C.KYC_STATUS, True, True, None),
    ("status: approved 24 months ago", with_(run=run(approved_at=months_ago(24))), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: validity is a tenant setting", with_(run=run(approved_at=months_ago(13))), PolicyConfig(kyc_validity_months=12), C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: provider KYC passed", with_(run=None, provider_checks=(kyc_check(),)), DEFAULT, C.KYC_STATUS, True, True, None),
    ("status: provider KYC 25 months old", with_(run=None, provider_checks=(kyc_check(check_confirmed_at=months_ago(25)),)), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: provider KYC document expired", with_(run=None, provider_checks=(kyc_check(document_expiration_date=TODAY - DAY),)), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: provider KYC pending", with_(run=None, provider_checks=(kyc_check("ACCEPTED"),)), DEFAULT, C.KYC_STATUS, False, True, A.WAIT),
    ("status: provider KYC failed", with_(run=None, provider_checks=(kyc_check("FAILED"),)), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: every identity document expired", with_(documents=(doc("PASSPORT", TODAY - DAY),), identifiers=(IdentifierInput("NATIONAL_ID", TODAY - 2 * DAY),)), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: one identity document still valid", with_(documents=(doc("PASSPORT", TODAY - DAY), doc("ID_CARD", TODAY))), DEFAULT, C.KYC_STATUS, True, True, None),
    ("status: run denied", with_(run=run(S.DENIED_COMPLIANCE)), DEFAULT, C.KYC_STATUS, False, True, A.CONTACT_SUPPORT),
    ("status: identity theft", with_(run=run(S.DENIED_IDENTITY_THEFT)), DEFAULT, C.KYC_STATUS, False, True, A.CONTACT_SUPPORT),
    ("status: customer rejected", profile(status="rejected"), DEFAULT, C.KYC_STATUS, False, True, A.CONTACT_SUPPORT),
    ("status: confirmed sanctions hit", with_(screening=ScreeningInput(confirmed_hits=1, confirmed_sanction_hits=1)), DEFAULT, C.KYC_STATUS, False, True, A.CONTACT_SUPPORT),
    ("status: open screening hit", with_(screening=ScreeningInput(open_hits=2)), DEFAULT, C.KYC_STATUS, False, True, A.WAIT),
    ("status: confirmed PEP hit alone", with_(screening=ScreeningInput(confirmed_hits=1)), DEFAULT, C.KYC_STATUS, True, True, None),
    ("status: provider COMPLIANCE failed", with_(provider_checks=(check("COMPLIANCE", "FAILED"),)), DEFAULT, C.KYC_STATUS, False, True, A.CONTACT_SUPPORT),
    ("status: COMPLIANCE passed after a failure", with_(provider_checks=(check("COMPLIANCE", "FAILED", 60 * DAY), check("COMPLIANCE", "PASSED", DAY))), DEFAULT, C.KYC_STATUS, True, True, None),
    ("status: COMPLIANCE pending", with_(provider_checks=(check("COMPLIANCE", "ACCEPTED"),)), DEFAULT, C.KYC_STATUS, False, True, A.WAIT),
    ("status: a step RED with RETRY", with_(run=run(S.PENDING, step("identity_doc", "completed", "RED", "RETRY"), green("selfie"))), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: a step expired", with_(run=run(S.PENDING, step("identity_doc", "expired"))), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: run in review", with_(run=run(S.PROCESSING)), DEFAULT, C.KYC_STATUS, False, True, A.WAIT),
    ("status: run started", with_(run=run(S.PENDING)), DEFAULT, C.KYC_STATUS, False, True, A.COMPLETE_SDK_FLOW),
    ("status: run expired", with_(run=run(S.EXPIRED)), DEFAULT, C.KYC_STATUS, False, True, A.RERUN_KYC),
    ("status: no run", with_(run=None), DEFAULT, C.KYC_STATUS, False, True, A.START_KYC),
    ("status: refresh run while approval holds", with_(run=run(S.PENDING), earlier_approval_at=months_ago(20)), DEFAULT, C.KYC_STATUS, True, True, None),
    ("status: refresh run after approval lapsed", with_(run=run(S.PENDING), earlier_approval_at=months_ago(30)), DEFAULT, C.KYC_STATUS, False, True, A.COMPLETE_SDK_FLOW),
    # REGISTRATION_ADDRESS
    ("address: primary home", BASE, DEFAULT, C.REGISTRATION_ADDRESS, True, True, None),
    ("address: none", with_(addresses=()), DEFAULT, C.REGISTRATION_ADDRESS, False, True, A.UPDATE_PROFILE),
    ("address: not primary", with_(addresses=(AddressInput("residential", False, "DE"),)), DEFAULT, C.REGISTRATION_ADDRESS, False, True, A.UPDATE_PROFILE),
    ("address: primary but mailing", with_(addresses=(AddressInput("mailing", True, "DE"),)), DEFAULT, C.REGISTRATION_ADDRESS, False, True, A.UPDATE_PROFILE),
    ("address: registered office", with_(profile=COMPANY, addresses=(AddressInput("registered", True, "DE"),)), DEFAULT, C.REGISTRATION_ADDRESS, True, True, None),
    # TAX_COUNTRY
    ("tax: set", BASE, DEFAULT, C.TAX_COUNTRY, True, True, None),
    ("tax: missing", profile(tax_country=None), DEFAULT, C.TAX_COUNTRY, False, True, A.UPDATE_PROFILE),
    ("tax: company falls back to incorporation", with_(profile=COMPANY), DEFAULT, C.TAX_COUNTRY, True, True, None),
    # OCCUPATION
    ("occupation: set", BASE, DEFAULT, C.OCCUPATION, True, True, None),
    ("occupation: missing", profile(occupation=None), DEFAULT, C.OCCUPATION, False, True, A.UPDATE_PROFILE),
    ("occupation: company industry", with_(profile=COMPANY), DEFAULT, C.OCCUPATION, True, True, None),
    ("occupation: company without industry", with_(profile=replace(COMPANY, industry=None)), DEFAULT, C.OCCUPATION, False, True, A.UPDATE_PROFILE),
    # DOC_SOURCE_OF_FUNDS
    ("sof: not required at low risk", with_(risk_level="LOW"), DEFAULT, C.DOC_SOURCE_OF_FUNDS, False, False, A.UPLOAD_DOCUMENT),
    ("sof: required at HIGH risk", with_(risk_level="HIGH"), DEFAULT, C.DOC_SOURCE_OF_FUNDS, False, True, A.UPLOAD_DOCUMENT),
    ("sof: required after a confirmed hit", with_(screening=ScreeningInput(confirmed_hits=1)), DEFAULT, C.DOC_SOURCE_OF_FUNDS, False, True, A.UPLOAD_DOCUMENT),
    ("sof: document on file", with_(risk_level="HIGH", documents=(doc("SOURCE_OF_FUNDS"),)), DEFAULT, C.DOC_SOURCE_OF_FUNDS, True, True, None),
    ("sof: document rejected", with_(risk_level="HIGH", documents=(doc("SOURCE_OF_FUNDS", review="rejected"),)), DEFAULT, C.DOC_SOURCE_OF_FUNDS, False, True, A.UPLOAD_DOCUMENT),
    ("sof: document awaiting review", with_(risk_level="HIGH", documents=(doc("SOURCE_OF_FUNDS"),)), REVIEWED, C.DOC_SOURCE_OF_FUNDS, False, True, A.WAIT),
    ("sof: document accepted", with_(risk_level="HIGH", documents=(doc("SOURCE_OF_FUNDS", review="accepted"),)), REVIEWED, C.DOC_SOURCE_OF_FUNDS, True, True, None),
    # DOC_FATCA
    ("fatca: not required for non-US", BASE, DEFAULT, C.DOC_FATCA, False, False, A.UPLOAD_DOCUMENT),
    ("fatca: US nationality", profile(nationality="US"), DEFAULT, C.DOC_FATCA, False, True, A.UPLOAD_DOCUMENT),
    ("fatca: US tax country", profile(tax_country="US"), DEFAULT, C.DOC_FATCA, False, True, A.UPLOAD_DOCUMENT),
    ("fatca: US home address", with_(addresses=(AddressInput("residential", True, "US"),)), DEFAULT, C.DOC_FATCA, False, True, A.UPLOAD_DOCUMENT),
    ("fatca: US company", with_(profile=replace(COMPANY, incorporation_country="US")), DEFAULT, C.DOC_FATCA, False, True, A.UPLOAD_DOCUMENT),
    ("fatca: form on file", with_(profile=replace(PERSON, nationality="US"), documents=(doc("FATCA_FORM", TODAY + DAY),)), DEFAULT, C.DOC_FATCA, True, True, None),
    ("fatca: form expired", with_(profile=replace(PERSON, nationality="US"), documents=(doc("FATCA_FORM", TODAY - DAY),)), DEFAULT, C.DOC_FATCA, False, True, A.UPLOAD_DOCUMENT),
    # DOC_BIOMETRIC_REPORT
    ("biometric: level with selfie, step GREEN", BASE, DEFAULT, C.DOC_BIOMETRIC_REPORT, True, True, None),
    ("biometric: liveness to do", with_(run=run(S.PENDING, step("identity_doc", "submitted"), step("liveness", "pending"))), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.COMPLETE_SDK_FLOW),
    ("biometric: liveness left undone", with_(run=run(S.PENDING, step("liveness", "pending"), expires_at=NOW - DAY)), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.RERUN_KYC),
    ("biometric: liveness in review", with_(run=run(S.PROCESSING, step("liveness", "in_review"))), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.WAIT),
    ("biometric: liveness RED to retry", with_(run=run(S.PENDING, step("liveness", "completed", "RED", "RETRY"))), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.RERUN_KYC),
    ("biometric: liveness RED for good", with_(run=run(S.DENIED_IDENTITY_THEFT, step("liveness", "completed", "RED", "FINAL"))), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.CONTACT_SUPPORT),
    ("biometric: GREEN but the approval lapsed", with_(run=run(S.APPROVED, green("liveness"), approved_at=months_ago(25))), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.RERUN_KYC),
    ("biometric: GREEN before the rest of the run", with_(run=run(S.PROCESSING, step("identity_doc", "in_review"), green("selfie"), green("liveness"))), DEFAULT, C.DOC_BIOMETRIC_REPORT, True, True, None),
    ("biometric: only the required step counts", with_(run=run(S.APPROVED, green("selfie"), replace(step("liveness", "pending"), optional=True))), DEFAULT, C.DOC_BIOMETRIC_REPORT, True, True, None),
    ("biometric: optional liveness is not a requirement", with_(run=run(S.APPROVED, green("identity_doc"), replace(step("liveness", "pending"), optional=True))), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, False, A.UPLOAD_DOCUMENT),
    ("biometric: a refresh run relies on the earlier approval", with_(run=run(S.PENDING, step("liveness", "pending")), earlier_approval_at=months_ago(20), earlier_approval_green_kinds=frozenset({"identity_doc", "liveness"})), DEFAULT, C.DOC_BIOMETRIC_REPORT, True, True, None),
    ("biometric: an earlier approval without liveness", with_(run=run(S.PENDING, step("liveness", "pending")), earlier_approval_at=months_ago(20), earlier_approval_green_kinds=frozenset({"identity_doc"})), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.COMPLETE_SDK_FLOW),
    ("biometric: an earlier approval that lapsed", with_(run=run(S.PENDING, step("liveness", "pending")), earlier_approval_at=months_ago(30), earlier_approval_green_kinds=frozenset({"liveness"})), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, True, A.COMPLETE_SDK_FLOW),
    ("biometric: report on file", with_(run=run(S.PROCESSING, step("liveness", "in_review")), documents=(doc("BIOMETRIC_REPORT"),)), DEFAULT, C.DOC_BIOMETRIC_REPORT, True, True, None),
    ("biometric: level without liveness", with_(run=run(S.APPROVED, green("identity_doc"))), DEFAULT, C.DOC_BIOMETRIC_REPORT, False, False, A.UPLOAD_DOCUMENT),
    ("biometric: provider video identification", with_(run=None, provider_checks=(kyc_check(),)), PolicyConfig(required={C.DOC_BIOMETRIC_REPORT: Requirement.ALWAYS}), C.DOC_BIOMETRIC_REPORT, True, True, None),
    ("biometric: provider photo identification", with_(run=None, provider_checks=(kyc_check(method="PHOTO_ID"),)), PolicyConfig(required={C.DOC_BIOMETRIC_REPORT: Requirement.ALWAYS}), C.DOC_BIOMETRIC_REPORT, False, True, A.UPLOAD_DOCUMENT),
    # DOC_PROOF_OF_ADDRESS
    ("poa: not required without a poa step", BASE, DEFAULT, C.DOC_PROOF_OF_ADDRESS, False, False, A.UPLOAD_DOCUMENT),
    ("poa: level with poa to do", with_(run=run(S.PENDING, step("identity_doc", "submitted"), step("poa", "pending"))), DEFAULT, C.DOC_PROOF_OF_ADDRESS, False, True, A.COMPLETE_SDK_FLOW),
    ("poa: optional poa step is not a requirement", with_(run=run(S.PENDING, step("identity_doc", "submitted"), replace(step("poa", "pending"), optional=True))), DEFAULT, C.DOC_PROOF_OF_ADDRESS, False, False, A.COMPLETE_SDK_FLOW),
    ("poa: always, optional poa left out of an approved run", with_(run=run(S.APPROVED, green("identity_doc"), replace(step("poa", "pending"), optional=True))), PolicyConfig(required={C.DOC_PROOF_OF_ADDRESS: Requirement.ALWAYS}), C.DOC_PROOF_OF_ADDRESS, False, True, A.UPLOAD_DOCUMENT),
    ("poa: always, optional poa GREEN", with_(run=run(S.APPROVED, green("identity_doc"), replace(green("poa"), optional=True))), PolicyConfig(required={C.DOC_PROOF_OF_ADDRESS: Requirement.ALWAYS}), C.DOC_PROOF_OF_ADDRESS, True, True, None),
    ("poa: a refresh run relies on the earlier approval", with_(run=run(S.PENDING, step("poa", "pending")), earlier_approval_at=months_ago(3), earlier_approval_green_kinds=frozenset({"poa"})), DEFAULT, C.DOC_PROOF_OF_ADDRESS, True, True, None),
    ("poa: poa in review", with_(run=run(S.PROCESSING, step("poa", "submitted"))), DEFAULT, C.DOC_PROOF_OF_ADDRESS, False, True, A.WAIT),
    ("poa: poa step GREEN", with_(run=run(S.APPROVED, green("identity_doc"), green("poa"))), DEFAULT, C.DOC_PROOF_OF_ADDRESS, True, True, None),
    ("poa: utility bill on file", with_(documents=(doc("UTILITY_BILL"),)), PolicyConfig(required={C.DOC_PROOF_OF_ADDRESS: Requirement.ALWAYS}), C.DOC_PROOF_OF_ADDRESS, True, True, None),
    ("poa: bank statement expired", with_(documents=(doc("BANK_STATEMENT", TODAY - DAY),)), PolicyConfig(required={C.DOC_PROOF_OF_ADDRESS: Requirement.ALWAYS}), C.DOC_PROOF_OF_ADDRESS, False, True, A.UPLOAD_DOCUMENT),
    ("poa: provider POR passed", with_(provider_checks=(check("POR"),)), PolicyConfig(required={C.DOC_PROOF_OF_ADDRESS: Requirement.ALWAYS}), C.DOC_PROOF_OF_ADDRESS, True, True, None),
    ("poa: provider POR too old", with_(provider_checks=(check("POR", age=25 * 31 * DAY),)), PolicyConfig(required={C.DOC_PROOF_OF_ADDRESS: Requirement.ALWAYS}), C.DOC_PROOF_OF_ADDRESS, False, True, A.UPLOAD_DOCUMENT),
    ("poa: provider POR failed", with_(provider_checks=(check("POR", "FAILED"),)), PolicyConfig(required={C.DOC_PROOF_OF_ADDRESS: Requirement.ALWAYS}), C.DOC_PROOF_OF_ADDRESS, False, True, A.UPLOAD_DOCUMENT),
    # Tenant overrides
    ("override: occupation never required", profile(occupation=None), PolicyConfig(required={C.OCCUPATION: Requirement.NEVER}), C.OCCUPATION, False, False, A.UPDATE_PROFILE),
    ("override: FATCA always required", BASE, PolicyConfig(required={C.DOC_FATCA: Requirement.ALWAYS}), C.DOC_FATCA, False, True, A.UPLOAD_DOCUMENT),
]
# fmt: on


@pytest.mark.parametrize(
    ("inputs", "config", "check_type", "passed", "required", "action"),
    [pytest.param(*case[1:], id=case[0]) for case in CHECK_CASES],
)
def test_check(
    inputs: ComplianceInputs,
    config: PolicyConfig,
    check_type: CheckType,
    passed: bool,
    required: bool,
    action: NextAction | None,
) -> None:
    result = evaluate(inputs, config, NOW)
    found = next(c for c in result.checks if c.type is check_type)
    assert (found.passed, found.required, found.suggested_action) == (passed, required, action)


def test_every_check_type_passes_and_fails_in_the_table() -> None:
    outcomes = {(case[3], case[4]) for case in CHECK_CASES}
    assert outcomes == {(t, p) for t in CheckType for p in (True, False)}


# (id, inputs, config, onboardingStatus, nextAction, isCompliant)
# fmt: off
STATUS_CASES: list[tuple[str, ComplianceInputs, PolicyConfig, S | None, A, bool]] = [
    ("compliant", BASE, DEFAULT, S.APPROVED, A.NONE, True),
    ("bare profile, nothing started", ComplianceInputs(profile=ProfileInput()), DEFAULT, None, A.START_KYC, False),
    ("complete profile, nothing started", with_(run=None), DEFAULT, None, A.START_KYC, False),
    ("run started, profile incomplete", with_(profile=ProfileInput(), run=run(S.PENDING, step("identity_doc", "pending"))), DEFAULT, S.PENDING, A.COMPLETE_SDK_FLOW, False),
    ("run in review, occupation missing", with_(profile=replace(PERSON, occupation=None), run=run(S.PROCESSING)), DEFAULT, S.PROCESSING, A.UPDATE_PROFILE, False),
    ("approved, US person without FATCA form", profile(nationality="US"), DEFAULT, S.APPROVED, A.UPLOAD_DOCUMENT, False),
    ("run in review, all else fine", with_(run=run(S.PROCESSING)), DEFAULT, S.PROCESSING, A.WAIT, False),
    ("approved, screening hit open", with_(screening=ScreeningInput(open_hits=1)), DEFAULT, S.PROCESSING, A.WAIT, False),
    ("denied beats missing data", with_(profile=ProfileInput(), run=run(S.DENIED_COMPLIANCE)), DEFAULT, S.DENIED_COMPLIANCE, A.CONTACT_SUPPORT, False),
    ("identity theft", with_(run=run(S.DENIED_IDENTITY_THEFT)), DEFAULT, S.DENIED_IDENTITY_THEFT, A.CONTACT_SUPPORT, False),
    ("sanctions beat an approval", with_(screening=ScreeningInput(confirmed_hits=1, confirmed_sanction_hits=1)), DEFAULT, S.DENIED_COMPLIANCE, A.CONTACT_SUPPORT, False),
    ("run expired by TTL", with_(run=run(S.PENDING, step("identity_doc", "pending"), expires_at=NOW)), DEFAULT, S.EXPIRED, A.RERUN_KYC, False),
    ("approval older than 24 months", with_(run=run(approved_at=months_ago(25))), DEFAULT, S.EXPIRED, A.RERUN_KYC, False),
    ("RETRY beats missing documents", with_(profile=replace(PERSON, nationality="US"), run=run(S.PENDING, step("identity_doc", "completed", "RED", "RETRY"))), DEFAULT, S.PENDING, A.RERUN_KYC, False),
    ("provider KYC is enough without a run", with_(run=None, provider_checks=(kyc_check(), check("COMPLIANCE"))), DEFAULT, S.APPROVED, A.NONE, True),
    ("provider KYC failed", with_(run=None, provider_checks=(kyc_check("FAILED"),)), DEFAULT, S.PENDING, A.RERUN_KYC, False),
    ("a tenant not requiring KYC", with_(run=None), PolicyConfig(required={t: Requirement.NEVER for t in (C.KYC_STARTED, C.SDK_VERIFICATION_COMPLETED, C.KYC_STATUS)}), None, A.NONE, True),
    ("HIGH risk with its source of funds", with_(risk_level="HIGH", documents=(doc("SOURCE_OF_FUNDS"),)), DEFAULT, S.APPROVED, A.NONE, True),
]
# fmt: on


@pytest.mark.parametrize(
    ("inputs", "config", "status", "action", "compliant"),
    [pytest.param(*case[1:], id=case[0]) for case in STATUS_CASES],
)
def test_status_and_next_action(
    inputs: ComplianceInputs,
    config: PolicyConfig,
    status: OnboardingStatus | None,
    action: NextAction,
    compliant: bool,
) -> None:
    result = evaluate(inputs, config, NOW)
    assert (result.onboarding_status, result.next_action, result.is_compliant) == (
        status,
        action,
        compliant,
    )


def test_every_next_action_and_onboarding_status_is_reached() -> None:
    assert {case[4] for case in STATUS_CASES} == set(NextAction)
    assert {case[3] for case in STATUS_CASES} == {*OnboardingStatus, None}


def test_time_alone_expires_an_approval() -> None:
    inputs = with_(run=run(approved_at=NOW))
    assert evaluate(inputs, DEFAULT, NOW).next_action is A.NONE
    later = evaluate(inputs, DEFAULT, add_months(NOW, 24))
    assert (later.onboarding_status, later.next_action) == (S.EXPIRED, A.RERUN_KYC)
    assert later.required_failed == ["KYC_STATUS"]


def test_time_alone_expires_a_document() -> None:
    inputs = with_(
        profile=replace(PERSON, tax_country="US"), documents=(doc("FATCA_FORM", date(2027, 1, 1)),)
    )
    assert evaluate(inputs, DEFAULT, NOW).is_compliant
    after = evaluate(inputs, DEFAULT, datetime(2027, 1, 2, tzinfo=UTC))
    assert after.required_failed == ["DOC_FATCA"]
    assert after.next_action is A.UPLOAD_DOCUMENT


# Inputs whose every dated part ages: the timeline test walks them through years.
AGEING = with_(
    profile=replace(PERSON, tax_country="US"),
    run=run(S.PENDING, step("identity_doc", "pending"), expires_at=NOW + 3 * DAY),
    earlier_approval_at=months_ago(20),
    earlier_approval_green_kinds=frozenset({"identity_doc", "selfie"}),
    documents=(doc("FATCA_FORM", date(2027, 1, 1), "accepted"), doc("PASSPORT", date(2028, 6, 30))),
    identifiers=(IdentifierInput("PASSPORT", date(2027, 3, 1)),),
    provider_checks=(kyc_check(document_expiration_date=date(2027, 2, 1)), check("POR")),
)
TIMELINE_CASES = [
    pytest.param(case[1], case[2], id=case[0]) for case in [*CHECK_CASES, *STATUS_CASES]
] + [
    pytest.param(AGEING, DEFAULT, id="every dated input"),
    pytest.param(AGEING, PolicyConfig(kyc_validity_months=1), id="short validity"),
]


@pytest.mark.parametrize(("inputs", "config"), TIMELINE_CASES)
def test_the_answer_holds_until_changes_by_time_at(
    inputs: ComplianceInputs, config: PolicyConfig
) -> None:
    """The stored answer of a status read is served until this moment, so no
    answer may change before it: walk each case from moment to moment."""
    moment, horizon = NOW, NOW + timedelta(days=50 * 366)
    for _ in range(50):
        answer = evaluate(inputs, config, moment)
        until = changes_by_time_at(inputs, config, moment)
        assert until is None or until > moment
        end = until or horizon
        for probe in (moment + (end - moment) / 3, end - timedelta(microseconds=1)):
            assert evaluate(inputs, config, probe) == answer, (moment, probe)
        if until is None:
            return
        moment = until
    raise AssertionError("more than 50 moments")


def test_changes_by_time_at_names_the_moment_of_change() -> None:
    approved = with_(run=run(approved_at=NOW - DAY))
    lapse = add_months(NOW - DAY, 24)
    assert changes_by_time_at(approved, DEFAULT, NOW) == lapse
    assert evaluate(approved, DEFAULT, lapse).next_action is A.RERUN_KYC
    fatca = with_(
        profile=replace(PERSON, tax_country="US"), documents=(doc("FATCA_FORM", date(2027, 1, 1)),)
    )
    first_day_expired = datetime(2027, 1, 2, tzinfo=UTC)
    assert changes_by_time_at(fatca, DEFAULT, NOW) == first_day_expired
    assert evaluate(fatca, DEFAULT, first_day_expired).next_action is A.UPLOAD_DOCUMENT
    assert changes_by_time_at(ComplianceInputs(profile=PERSON), DEFAULT, NOW) is None


def test_result_lists_every_check_once_with_consistent_summary() -> None:
    result = evaluate(profile(occupation=None, nationality="US"), DEFAULT, NOW)
    assert [c.type for c in result.checks] == list(CheckType)
    assert all((c.suggested_action is None) == c.passed for c in result.checks)
    assert result.passed_count + result.failed_count == len(CheckType)
    assert result.required_failed == ["OCCUPATION", "DOC_FATCA"]
    assert result.state() == (False, "APPROVED", "UPDATE_PROFILE")


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 24, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 11, 22, tzinfo=UTC), -24, datetime(2024, 11, 22, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
    ],
)
def test_add_months(moment: datetime, months: int, expected: datetime) -> None:
    assert add_months(moment, months) == expected


def test_docs_document_every_check_type_and_action() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "compliance.md").read_text()
    table_rows = {
        line.split("|")[1].strip(" `") for line in text.splitlines() if line.startswith("| `")
    }
    assert {t.value for t in CheckType} <= table_rows
    assert all(f"`{a.value}`" in text for a in NextAction)


def test_document_groups_speak_the_documents_domains_vocabulary() -> None:
    from kycd.compliance import policy
    from kycd.documents import types as documents
    from kycd.identifiers.types import IdentifierType

    assert policy.PROOF_OF_ADDRESS_TYPES == documents.PROOF_OF_ADDRESS_TYPES
    assert policy.SOURCE_OF_FUNDS_TYPES == documents.SOURCE_OF_FUNDS_TYPES
    assert policy.FATCA_TYPES == documents.FATCA_TYPES
    assert policy.BIOMETRIC_TYPES == documents.BIOMETRIC_REPORT_TYPES
    known = {t.value for t in documents.DocumentType} | {t.value for t in IdentifierType}
    assert known >= policy.IDENTITY_DOCUMENT_TYPES
    assert documents.PHYSICAL_ID_TYPES <= policy.IDENTITY_DOCUMENT_TYPES
