# ruff: noqa: F811 - pytest fixtures imported from check_fixtures are redefined as arguments.
"""One customer from a bare profile to compliant, across every API surface,
watching nextAction change at each step (seed 000's promise), on SQLite and
PostgreSQL: customers and sessions (003), the run's steps through the review
API and the sandbox verdict (002), documents, identifiers, contacts and the
verify / activate commands (001), user checks decided by the evidence job
against a local HTTPS server (004), and the compliance status (000)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from checks.check_fixtures import (  # noqa: F401 - fixtures
    evidence_server,
    test_ca,
    worker_settings,
)
from checks.check_payloads import compliance_body, kyc_body
from client_factories import add_identifier, pdf_bytes, upload_document, verify_contacts
from compliance.compliance_fixtures import changes, status
from conftest import Api
from factories import customer_payload
from kycd.checks.worker import run_evidence_job
from kycd.db import Database, utcnow
from kycd.settings import Settings


def test_a_customer_walks_from_a_bare_profile_to_compliant(
    api: Api, database: Database, worker_settings: Settings, evidence_server: Any
) -> None:
    seen: list[str] = []

    def now_next(expected: str, onboarding: str | None) -> dict[str, Any]:
        data = status(api, customer_id)
        assert (data["nextAction"], data["onboardingStatus"]) == (expected, onboarding), data
        seen.append(data["nextAction"])
        return data

    def decide_checks() -> None:
        run_evidence_job(database, worker_settings, utcnow())

    # 003: a bare customer.
    customer = api.post("/v1/customers", json={"client_id": "journey-1"}).json()
    customer_id, client_id = customer["id"], customer["client_id"]
    now_next("START_KYC", None)

    # 003: a verification session on the default level KYC_01.
    session = api.post("/v1/sessions", json={"customer_id": customer_id}).json()
    now_next("COMPLETE_SDK_FLOW", "PENDING")

    # The hosted flow hands the applicant's steps in (review API, actor sdk).
    for kind in ("identity_doc", "selfie", "liveness", "questionnaire"):
        url = f"/v1/sessions/{session['id']}/steps/{kind}/submit"
        assert api.post(url, json={"actor_type": "sdk"}).status_code == 200
    assert api.get(f"/v1/applicants/{client_id}/status").json()["onboardingStatus"] == (
        "PROCESSING"
    )
    now_next("UPDATE_PROFILE", "PROCESSING")

    # 003: the profile, a US person (FATCA applies).
    profile = customer_payload(nationality="US", tax_country="US")
    del profile["client_id"], profile["type"]
    assert api.patch(f"/v1/customers/{customer_id}", json=profile).status_code == 200
    data = now_next("UPLOAD_DOCUMENT", "PROCESSING")
    assert "DOC_FATCA" in data["summary"]["requiredFailed"]

    # 001: the FATCA form; now only reviews are outstanding.
    assert upload_document(api, customer_id, "FATCA_FORM", content=pdf_bytes()).status_code == 200
    now_next("WAIT", "PROCESSING")

    # 002: a reviewer approves the document step, the sandbox the questionnaire.
    decision = f"/v1/sessions/{session['id']}/steps/identity_doc/decision"
    assert api.post(decision, json={"review_answer": "GREEN"}).status_code == 200
    sandbox = f"/v1/applicants/{client_id}/steps/questionnaire/sandbox-verdict"
    assert api.post(sandbox, json={"reviewAnswer": "GREEN"}).status_code == 200
    assert status(api, customer_id)["nextAction"] == "WAIT"

    # 004: the provider's video identification; pending until its evidence is in.
    link = evidence_server.url("/ok/journey.zip")
    check = api.post(f"/v1/users/{customer_id}/checks", json=kyc_body(data_download_link=link))
    assert check.status_code == 202, check.text
    decide_checks()
    # PASSED: selfie and liveness are completed, and the check is an approval.
    steps = api.get(f"/v1/applicants/{client_id}/steps").json()["steps"]
    assert [s["kind"] for s in steps if s["reviewAnswer"] == "GREEN"] == [
        "identity_doc",
        "selfie",
        "liveness",
        "questionnaire",
    ]
    now_next("NONE", "APPROVED")

    # 004: the provider's screening; while it is pending the customer waits.
    assert api.post(f"/v1/users/{customer_id}/checks", json=compliance_body()).status_code == 202
    now_next("WAIT", "PROCESSING")
    decide_checks()
    final = now_next("NONE", "APPROVED")
    assert final["isCompliant"] is True
    assert final["summary"]["requiredFailed"] == []
    # The run is complete too (aml by the COMPLIANCE check; poa is optional).
    applicant = api.get(f"/v1/applicants/{client_id}/status").json()
    assert (applicant["reviewAnswer"], applicant["onboardingStatus"]) == ("GREEN", "APPROVED")

    # 001: the lifecycle gate, Pending -> Verified -> Active; still compliant.
    verify_contacts(api, customer_id)
    passport = add_identifier(
        api,
        customer_id,
        documentType="PASSPORT",
        documentKey="C01X00T47",
        issuingCountry="US",
        expiryDate="2099-01-01",
    )
    assert passport.status_code == 200, passport.text
    verified = api.post(
        f"/v1/clients/{customer_id}?command=verify", json={"kycVerificationType": "PARTIAL"}
    )
    assert verified.status_code == 200, verified.text
    assert api.post(f"/v1/clients/{customer_id}?command=activate", json={}).status_code == 200
    assert api.get(f"/v1/clients/{customer_id}").json()["status"]["code"] == (
        "clientStatusType.active"
    )
    now_next("NONE", "APPROVED")

    assert seen == [
        "START_KYC",
        "COMPLETE_SDK_FLOW",
        "UPDATE_PROFILE",
        "UPLOAD_DOCUMENT",
        "WAIT",
        "NONE",
        "WAIT",
        "NONE",
        "NONE",
    ]
    # Every change of nextAction was recorded once, by the write that caused it.
    moves = [(a, b) for a, b in pairwise(seen) if a != b]
    assert [c for c in changes(database, customer_id) if c[0] != c[1]] == moves
