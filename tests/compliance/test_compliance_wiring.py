"""The other domains feeding the compliance status, through the real API, on
SQLite and PostgreSQL: risk, documents, identifiers, screening."""

from __future__ import annotations

from typing import Any

from compliance_fixtures import approved_customer, changes, status

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
