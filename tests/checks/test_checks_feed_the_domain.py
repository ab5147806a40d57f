# ruff: noqa: F811 - pytest fixtures imported from check_fixtures are redefined as arguments.
"""Checks feed the domain (issue #6 item 6): a PASSED check completes the steps
of the customer's current run and counts in the compliance status. Through the
real API and the evidence job against a local HTTPS server, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from check_fixtures import (  # noqa: F401 - fixtures
    evidence_server,
    test_ca,
    worker_settings,
)
from check_payloads import compliance_body, instrument_fit_body, kyc_body, por_body
from sqlalchemy import select

from conftest import Api
from factories import customer_payload
from kycd.checks.worker import run_evidence_job
from kycd.db import Database, utcnow
from kycd.events.models import Event
from kycd.settings import Settings

KYC_01 = ["identity_doc", "selfie", "liveness", "poa", "questionnaire", "aml"]


def new_applicant(api: Api, *, session: bool = True) -> tuple[str, str]:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    if session:
        assert api.post("/v1/sessions", json={"customer_id": customer["id"]}).status_code == 201
    return customer["id"], customer["client_id"]


def green_steps(api: Api, client_id: str) -> list[str]:
    steps = api.get(f"/v1/applicants/{client_id}/steps").json()["steps"]
    return [s["kind"] for s in steps if s["reviewAnswer"] == "GREEN"]


def post_and_decide(
    api: Api, database: Database, settings: Settings, customer_id: str, body: dict[str, Any]
) -> str:
    response = api.post(f"/v1/users/{customer_id}/checks", json=body)
    assert response.status_code == 202, response.text
    check_id: str = response.json()["id"]
    run_evidence_job(database, settings, utcnow())
    check = api.get(f"/v1/users/{customer_id}/checks/{check_id}").json()
    assert check["status"] == "PASSED", check
    return check_id


def compliance_status(api: Api, customer_id: str) -> dict[str, Any]:
    data: dict[str, Any] = api.get(f"/v1/compliance/status/{customer_id}").json()["data"]
    return data


@pytest.mark.parametrize(
    ("body", "completed"),
    [
        pytest.param(kyc_body(), ["identity_doc", "selfie", "liveness"], id="KYC VIDEO_ID"),
        pytest.param(kyc_body(method="PHOTO_ID"), ["identity_doc"], id="KYC PHOTO_ID"),
        pytest.param(por_body(), ["poa"], id="POR"),
        pytest.param(compliance_body(), ["aml"], id="COMPLIANCE"),
        pytest.param(instrument_fit_body(), [], id="INSTRUMENT_FIT"),
    ],
)
def test_each_passed_check_completes_its_steps(
    api: Api,
    database: Database,
    worker_settings: Settings,
    evidence_server: Any,
    body: dict[str, Any],
    completed: list[str],
) -> None:
    customer_id, client_id = new_applicant(api)
    if "data_download_link" in body:
        body = {**body, "data_download_link": evidence_server.url("/ok/evidence.zip")}
    check_id = post_and_decide(api, database, worker_settings, customer_id, body)
    assert green_steps(api, client_id) == completed
    with database.session() as db:
        verified = db.scalars(
            select(Event).where(Event.type == "applicant.verified").order_by(Event.seq)
        ).all()
    assert [e.payload["stepKind"] for e in verified] == completed
    assert {(e.actor_type, e.payload["source"]) for e in verified} <= {
        ("system", f"user_check:{check_id}")
    }


def test_checks_take_an_applicant_from_a_run_to_compliant(
    api: Api, database: Database, worker_settings: Settings, evidence_server: Any
) -> None:
    customer_id, client_id = new_applicant(api)
    assert compliance_status(api, customer_id)["nextAction"] == "COMPLETE_SDK_FLOW"
    link = evidence_server.url("/ok/video.zip")
    post_and_decide(api, database, worker_settings, customer_id, kyc_body(data_download_link=link))
    # The provider's identification is an approval of its own; the run still
    # waits for the questionnaire and the screening.
    after_kyc = compliance_status(api, customer_id)
    assert (after_kyc["onboardingStatus"], after_kyc["nextAction"]) == ("APPROVED", "NONE")
    assert api.get(f"/v1/applicants/{client_id}/status").json()["onboardingStatus"] == "PENDING"

    post_and_decide(api, database, worker_settings, customer_id, compliance_body())
    forced = api.post(
        f"/v1/applicants/{client_id}/steps/questionnaire/sandbox-verdict",
        json={"reviewAnswer": "GREEN"},
    )
    assert forced.status_code == 200, forced.text
    assert green_steps(api, client_id) == [k for k in KYC_01 if k != "poa"]
    assert api.get(f"/v1/applicants/{client_id}/status").json()["onboardingStatus"] == "APPROVED"
    final = compliance_status(api, customer_id)
    assert (final["isCompliant"], final["onboardingStatus"], final["nextAction"]) == (
        True,
        "APPROVED",
        "NONE",
    )


def test_a_failed_or_pending_check_completes_nothing_and_counts_as_such(
    api: Api, database: Database, worker_settings: Settings, evidence_server: Any
) -> None:
    customer_id, client_id = new_applicant(api, session=False)
    missing = kyc_body(data_download_link=evidence_server.url("/missing"))
    check_id = api.post(f"/v1/users/{customer_id}/checks", json=missing).json()["id"]
    pending = compliance_status(api, customer_id)
    assert (pending["onboardingStatus"], pending["nextAction"]) == ("PROCESSING", "WAIT")

    run_evidence_job(database, worker_settings, utcnow())
    assert api.get(f"/v1/users/{customer_id}/checks/{check_id}").json()["status"] == "FAILED"
    failed = compliance_status(api, customer_id)
    assert (failed["onboardingStatus"], failed["nextAction"]) == ("PENDING", "RERUN_KYC")

    # A check passed with no run open completes no step, and is enough alone.
    passed = kyc_body(kyc_update=True, data_download_link=evidence_server.url("/ok/again.zip"))
    post_and_decide(api, database, worker_settings, customer_id, passed)
    assert green_steps(api, client_id) == []
    assert compliance_status(api, customer_id)["nextAction"] == "NONE"
