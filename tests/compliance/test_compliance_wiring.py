"""The other domains feeding the compliance status, through the real API, on
SQLite and PostgreSQL: risk, documents, identifiers, screening."""

from __future__ import annotations

from typing import Any

from compliance_fixtures import approved_customer, changes, status

from client_factories import add_identifier, pdf_bytes, upload_document
from conftest import Api
from factories import customer_payload
from kycd.compliance.models import ComplianceProjection
from kycd.db import Database


def projection(database: Database, customer_id: str) -> tuple[bool, str | None, str]:
    """The state the writers left, without a read of the status."""
    with database.session() as db:
        row = db.get(ComplianceProjection, customer_id)
        assert row is not None
        return row.is_compliant, row.onboarding_status, row.next_action


def required_failed(data: dict[str, Any]) -> list[str]:
    failed: list[str] = data["summary"]["requiredFailed"]
    return failed


# --- risk (#10) ------------------------------------------------------------------------


def test_a_high_risk_nationality_requires_the_source_of_funds(api: Api, database: Database) -> None:
    # Iran is on FATF's call-for-action list (src/kycd/data/risk_countries.json).
    customer_id = approved_customer(api, database, nationality="IR", tax_country="IR")
    assert api.get(f"/v1/customers/{customer_id}/risk-profile").json()["level"] == "HIGH"
    data = status(api, customer_id)
    assert required_failed(data) == ["DOC_SOURCE_OF_FUNDS"]
    assert (data["isCompliant"], data["onboardingStatus"], data["nextAction"]) == (
        False,
        "APPROVED",
        "UPLOAD_DOCUMENT",
    )
    sof = next(c for c in data["checks"] if c["type"] == "DOC_SOURCE_OF_FUNDS")
    assert sof == {
        "type": "DOC_SOURCE_OF_FUNDS",
        "passed": False,
        "required": True,
        "suggestedAction": "UPLOAD_DOCUMENT",
    }


def test_a_risk_level_change_alone_refreshes_the_status(api: Api, database: Database) -> None:
    customer_id = approved_customer(api, database, nationality="FR", tax_country="FR")
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")
    # The tenant lists FR as high risk; only the recalculation (risk.level_changed)
    # tells compliance: no profile or run changes.
    settings = {
        "country_lists": {
            "categories": {"internal": {"value": 1, "minimum_level": "HIGH", "countries": ["FR"]}}
        }
    }
    assert api.put("/v1/risk/settings", json=settings).status_code == 200
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")
    recalculated = api.post(f"/v1/customers/{customer_id}/risk-profile")
    assert recalculated.json()["level"] == "HIGH"
    assert projection(database, customer_id) == (False, "APPROVED", "UPLOAD_DOCUMENT")
    assert changes(database, customer_id)[-1] == ("NONE", "UPLOAD_DOCUMENT")

    assert api.put("/v1/risk/settings", json={}).status_code == 200
    api.post(f"/v1/customers/{customer_id}/risk-profile")
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")
    assert status(api, customer_id)["nextAction"] == "NONE"


# --- documents and identifiers (#4) ------------------------------------------------------


def test_a_source_of_funds_document_satisfies_enhanced_due_diligence(
    api: Api, database: Database
) -> None:
    customer_id = approved_customer(api, database, nationality="IR", tax_country="IR")
    assert status(api, customer_id)["nextAction"] == "UPLOAD_DOCUMENT"
    uploaded = upload_document(api, customer_id, "SOURCE_OF_FUNDS", content=pdf_bytes())
    assert uploaded.status_code == 200, uploaded.text
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")

    # A tenant that wants documents reviewed first: the upload waits for it.
    policy = {"document_review_required": True}
    assert api.put("/v1/compliance/policy", json=policy).status_code == 200
    assert status(api, customer_id)["nextAction"] == "WAIT"
    document_id = uploaded.json()["resourceId"]
    review = f"/v1/clients/{customer_id}/documents/{document_id}"
    assert api.post(f"{review}?command=approve").status_code == 200
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")

    assert api.post(f"{review}?command=reject").status_code == 200
    rejected = status(api, customer_id)
    assert (rejected["nextAction"], required_failed(rejected)) == (
        "UPLOAD_DOCUMENT",
        ["DOC_SOURCE_OF_FUNDS"],
    )
    # The rejection also counts in the risk profile.
    factors = api.get(f"/v1/customers/{customer_id}/risk-profile").json()["factors"]
    verification = next(f for f in factors if f["name"] == "verification")
    assert verification["details"]["rejected_documents"] == 1


def test_a_fatca_form_for_a_us_person(api: Api, database: Database) -> None:
    customer_id = approved_customer(api, database, nationality="US")
    assert required_failed(status(api, customer_id)) == ["DOC_FATCA"]
    expired = upload_document(api, customer_id, "FATCA_FORM", expiry="2020-01-01")
    assert expired.status_code == 200, expired.text
    assert projection(database, customer_id) == (False, "APPROVED", "UPLOAD_DOCUMENT")
    assert upload_document(api, customer_id, "FATCA_FORM", expiry="2099-01-01").status_code == 200
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")


def test_expired_identity_documents_lapse_the_approval(api: Api, database: Database) -> None:
    customer_id = approved_customer(api, database)
    passport = add_identifier(
        api,
        customer_id,
        documentType="PASSPORT",
        documentKey="C01X00T47",
        issuingCountry="DE",
        expiryDate="2020-01-01",
    )
    assert passport.status_code == 200, passport.text
    # Every identity document on file has expired: the approval no longer holds.
    assert projection(database, customer_id) == (False, "EXPIRED", "RERUN_KYC")
    assert upload_document(api, customer_id, "ID_CARD", expiry="2099-01-01").status_code == 200
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")
    identifier_id = passport.json()["resourceId"]
    deleted = api.delete(f"/v1/clients/{customer_id}/identifiers/{identifier_id}")
    assert deleted.status_code == 200, deleted.text
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")


def test_a_rejected_client_is_denied_until_the_rejection_is_undone(
    api: Api, database: Database
) -> None:
    customer_id = approved_customer(api, database)
    assert api.post(f"/v1/clients/{customer_id}?command=reject", json={}).status_code == 200
    assert projection(database, customer_id) == (False, "DENIED_COMPLIANCE", "CONTACT_SUPPORT")
    assert api.post(f"/v1/clients/{customer_id}?command=undoRejection").status_code == 200
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")


def test_a_primary_address_added_through_the_clients_surface(api: Api, database: Database) -> None:
    customer_id = approved_customer(api, database, addresses=[])
    assert required_failed(status(api, customer_id)) == ["REGISTRATION_ADDRESS"]
    address = {
        "addressType": "RESIDENTIAL",
        "isPrimary": True,
        "addressLine1": "Rosenweg 221",
        "city": "Berlin",
        "postalCode": "10115",
        "countryCode": "DE",
    }
    added = api.post(f"/v1/clients/{customer_id}/addresses", json=address)
    assert added.status_code == 200, added.text
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")


# --- screening (#9) --------------------------------------------------------------------

WATCHLIST = (
    "id,schema,name,aliases,birth_date,nationality,country,identifiers,topics\n"
    "own-1,Person,Ivan Petrov,,1970-03-04,ru,,,sanction\n"
    "own-3,Person,Maria Gonzalez,,1985-01-01,es,,,role.pep\n"
)


def watchlist(api: Api) -> None:
    response = api.post(
        "/v1/screening/watchlists/own/imports",
        data={"format": "csv"},
        files={"file": ("list.csv", WATCHLIST.encode(), "application/octet-stream")},
    )
    assert response.status_code == 201, response.text


def aml_step(api: Api, customer_id: str) -> tuple[str, str | None, str | None]:
    client_id = api.get(f"/v1/customers/{customer_id}").json()["client_id"]
    steps = api.get(f"/v1/applicants/{client_id}/steps").json()["steps"]
    aml = next(s for s in steps if s["kind"] == "aml")
    return aml["reviewStatus"], aml["reviewAnswer"], aml["reviewRejectType"]


def monitored_applicant(api: Api, **profile: Any) -> tuple[str, dict[str, Any]]:
    """A customer with its applicant steps approved and aml left to screening."""
    customer_id = api.post("/v1/customers", json=customer_payload(**profile)).json()["id"]
    client_id = api.get(f"/v1/customers/{customer_id}").json()["client_id"]
    api.post("/v1/sessions", json={"customer_id": customer_id})
    for kind in ("identity_doc", "selfie", "liveness", "questionnaire"):
        url = f"/v1/applicants/{client_id}/steps/{kind}/sandbox-verdict"
        assert api.post(url, json={"reviewAnswer": "GREEN"}).status_code == 200
    monitored = api.post(f"/v1/customers/{customer_id}/monitor")
    assert monitored.status_code == 200, monitored.text
    return customer_id, monitored.json()


def review_hit(api: Api, hit_id: str, decision: str) -> None:
    body = {"decision": decision, "note": "checked against the passport"}
    response = api.post(f"/v1/screening/hits/{hit_id}/review", json=body)
    assert response.status_code == 200, response.text


def test_a_clear_screening_completes_the_aml_step(api: Api, database: Database) -> None:
    watchlist(api)
    customer_id, monitored = monitored_applicant(api)
    assert monitored["hits"] == []
    assert aml_step(api, customer_id) == ("completed", "GREEN", None)
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")


def test_an_open_hit_waits_and_a_false_positive_clears(api: Api, database: Database) -> None:
    watchlist(api)
    ivan = {"first_name": "Ivan", "last_name": "Petrov", "date_of_birth": "1970-03-04"}
    customer_id, monitored = monitored_applicant(api, nationality="RU", **ivan)
    [hit] = monitored["hits"]
    assert aml_step(api, customer_id) == ("submitted", None, None)
    data = status(api, customer_id)
    assert data["onboardingStatus"] == "PROCESSING"
    # Risk counts a hit until it is dismissed: a sanctions topic makes it HIGH,
    # so the source of funds is asked for meanwhile.
    assert required_failed(data) == ["KYC_STATUS", "DOC_SOURCE_OF_FUNDS"]
    kyc_status = next(c for c in data["checks"] if c["type"] == "KYC_STATUS")
    assert kyc_status["suggestedAction"] == "WAIT"
    review_hit(api, hit["id"], "false_positive")
    assert aml_step(api, customer_id) == ("completed", "GREEN", None)
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")


def test_a_confirmed_sanctions_hit_denies(api: Api, database: Database) -> None:
    watchlist(api)
    ivan = {"first_name": "Ivan", "last_name": "Petrov", "date_of_birth": "1970-03-04"}
    customer_id, monitored = monitored_applicant(api, nationality="RU", **ivan)
    review_hit(api, monitored["hits"][0]["id"], "confirmed")
    assert aml_step(api, customer_id) == ("completed", "RED", "FINAL")
    assert projection(database, customer_id) == (False, "DENIED_COMPLIANCE", "CONTACT_SUPPORT")
    profile = api.get(f"/v1/customers/{customer_id}/risk-profile").json()
    screening = next(f for f in profile["factors"] if f["name"] == "screening")
    assert (profile["level"], screening["value"]) == ("HIGH", 1.0)


def test_a_confirmed_pep_requires_the_source_of_funds(api: Api, database: Database) -> None:
    watchlist(api)
    maria = {"first_name": "Maria", "last_name": "Gonzalez", "date_of_birth": "1985-01-01"}
    customer_id, monitored = monitored_applicant(api, nationality="ES", **maria)
    review_hit(api, monitored["hits"][0]["id"], "confirmed")
    assert aml_step(api, customer_id) == ("completed", "GREEN", None)
    data = status(api, customer_id)
    assert (data["onboardingStatus"], data["nextAction"]) == ("APPROVED", "UPLOAD_DOCUMENT")
    assert required_failed(data) == ["DOC_SOURCE_OF_FUNDS"]
    assert api.get(f"/v1/customers/{customer_id}/risk-profile").json()["level"] == "HIGH"
    upload_document(api, customer_id, "SOURCE_OF_FUNDS", content=pdf_bytes())
    assert projection(database, customer_id) == (True, "APPROVED", "NONE")
