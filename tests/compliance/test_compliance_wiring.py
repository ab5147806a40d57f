"""The other domains feeding the compliance status, through the real API, on
SQLite and PostgreSQL: risk, documents, identifiers, screening."""

from __future__ import annotations

from typing import Any

from compliance_fixtures import approved_customer, changes, status

from client_factories import add_identifier, pdf_bytes, upload_document
from conftest import Api
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
