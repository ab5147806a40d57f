"""``?command=verify`` and ``?command=activate`` through the API, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from client_factories import (
    ITIN,
    SSN,
    add_identifier,
    create_client,
    partial_ready_client,
    upload_document,
    verify_contacts,
)
from conftest import Api, Credentials
from kycd.db import Database
from kycd.events.models import Event
from kycd.settings import Settings


def verify(api: Api, client_id: str, level: str = "PARTIAL") -> Any:
    return api.post(f"/v1/clients/{client_id}?command=verify", json={"kycVerificationType": level})


def error_codes(response: Any) -> list[str]:
    assert response.status_code == 403, response.text
    return [e["userMessageGlobalisationCode"] for e in response.json()["errors"]]


def count_events(database: Database, event_type: str) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).where(Event.type == event_type)) or 0


YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


def _no_address(api: Api) -> str:
    return partial_ready_client(api, address=[])


def _mailing_primary(api: Api) -> str:
    address = {
        "addressType": "MAILING",
        "isPrimary": True,
        "addressLine1": "Hauptstr. 1",
        "city": "Berlin",
        "countryCode": "DE",
    }
    return partial_ready_client(api, address=[address])


def _no_identity(api: Api) -> str:
    client_id = create_client(api)
    verify_contacts(api, client_id)
    return client_id


def _expired_identifier(api: Api) -> str:
    client_id = create_client(api)
    verify_contacts(api, client_id)
    r = add_identifier(
        api,
        client_id,
        documentType="PASSPORT",
        documentKey="C01X00T47",
        issuingCountry="DE",
        expiryDate=YESTERDAY,
    )
    assert r.status_code == 200, r.text
    return client_id


def _expired_id_document(api: Api) -> str:
    client_id = create_client(api)
    verify_contacts(api, client_id)
    assert upload_document(api, client_id, "ID_CARD", expiry=YESTERDAY).status_code == 200
    return client_id


def _email_unverified(api: Api) -> str:
    client_id = partial_ready_client(api)
    api.put(f"/v1/clients/{client_id}", json={"emailAddress": "new@example.org"})
    return client_id


def _email_missing(api: Api) -> str:
    client_id = create_client(api, emailAddress=None)
    verify_contacts(api, client_id, email=False)
    add_identifier(api, client_id, documentType="SSN", documentKey=SSN)
    return client_id


def _mobile_unverified(api: Api) -> str:
    client_id = create_client(api)
    verify_contacts(api, client_id, mobile=False)
    add_identifier(api, client_id, documentType="SSN", documentKey=SSN)
    return client_id


def _mobile_missing(api: Api) -> str:
    client_id = create_client(api, mobileNo=None)
    verify_contacts(api, client_id, mobile=False)
    add_identifier(api, client_id, documentType="SSN", documentKey=SSN)
    return client_id


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (_no_address, "error.msg.client.verify.primary.address.missing"),
        (_mailing_primary, "error.msg.client.verify.primary.address.not.physical"),
        (_no_identity, "error.msg.client.verify.identity.document.missing"),
        (_expired_identifier, "error.msg.client.verify.identity.document.expired"),
        (_expired_id_document, "error.msg.client.verify.identity.document.expired"),
        (_email_unverified, "error.msg.client.verify.email.not.verified"),
        (_email_missing, "error.msg.client.verify.email.missing"),
        (_mobile_unverified, "error.msg.client.verify.mobile.not.verified"),
        (_mobile_missing, "error.msg.client.verify.mobile.missing"),
    ],
)
def test_each_partial_rule_answers_its_own_code_and_changes_nothing(
    api: Api, database: Database, make: Callable[[Api], str], code: str
) -> None:
    client_id = make(api)
    before = api.get(f"/v1/clients/{client_id}").json()
    response = verify(api, client_id)
    assert error_codes(response) == [code]
    body = response.json()
    assert body["httpStatusCode"] == "403"
    assert body["developerMessage"] and body["defaultUserMessage"]
    assert body["userMessageGlobalisationCode"] == "validation.msg.domain.rule.violation"
    entry = body["errors"][0]
    assert entry["parameterName"] and entry["developerMessage"]
    assert api.get(f"/v1/clients/{client_id}").json() == before
    assert count_events(database, "applicant.verified") == 0


def test_full_without_ssn_itin_or_physical_id_answers_403(api: Api) -> None:
    client_id = partial_ready_client(api)
    assert error_codes(verify(api, client_id, "FULL")) == [
        "error.msg.client.verify.ssn.itin.or.physical.id.missing"
    ]
    assert api.get(f"/v1/clients/{client_id}").json()["subStatus"] is None


@pytest.mark.parametrize("proof", ["SSN", "ITIN", "ID_CARD", "PASSPORT", "DRIVERS_LICENSE"])
def test_full_passes_with_ssn_itin_or_a_physical_id(api: Api, proof: str) -> None:
    client_id = partial_ready_client(api)
    if proof in {"SSN", "ITIN"}:
        key = SSN if proof == "SSN" else ITIN
        assert (
            add_identifier(api, client_id, documentType=proof, documentKey=key).status_code == 200
        )
    else:
        assert upload_document(api, client_id, proof).status_code == 200
    response = verify(api, client_id, "FULL")
    assert response.status_code == 200, response.text
    assert api.get(f"/v1/clients/{client_id}").json()["kycVerificationType"] == "FULL"


def test_expired_physical_id_does_not_satisfy_full(api: Api) -> None:
    client_id = partial_ready_client(api)
    assert upload_document(api, client_id, "PASSPORT", expiry=YESTERDAY).status_code == 200
    assert error_codes(verify(api, client_id, "FULL")) == [
        "error.msg.client.verify.ssn.itin.or.physical.id.expired"
    ]


def test_every_unmet_rule_is_listed(api: Api) -> None:
    client_id = create_client(api, address=[], emailAddress=None, mobileNo=None)
    assert error_codes(verify(api, client_id, "FULL")) == [
        "error.msg.client.verify.primary.address.missing",
        "error.msg.client.verify.identity.document.missing",
        "error.msg.client.verify.email.missing",
        "error.msg.client.verify.mobile.missing",
        "error.msg.client.verify.ssn.itin.or.physical.id.missing",
    ]


def test_verify_records_one_event_and_the_timeline(api: Api, database: Database) -> None:
    client_id = partial_ready_client(api)
    response = verify(api, client_id)
    assert response.status_code == 200
    assert response.json()["changes"]["kycVerificationType"] == "PARTIAL"
    client = api.get(f"/v1/clients/{client_id}").json()
    assert client["status"] == {"id": 200, "code": "clientStatusType.verified", "value": "Verified"}
    assert client["subStatus"] == {"code": "clientSubStatusType.verified", "value": "Verified"}
    assert client["timeline"]["verifiedOnDate"] == date.today().isoformat()
    assert count_events(database, "applicant.verified") == 1
    assert api.get(f"/v1/customers/{client_id}").json()["status"] == "verified"


def test_verify_again_is_refused_but_partial_upgrades_to_full(api: Api, database: Database) -> None:
    client_id = partial_ready_client(api)
    assert verify(api, client_id).status_code == 200
    assert error_codes(verify(api, client_id)) == ["error.msg.client.verify.already.verified"]
    assert error_codes(verify(api, client_id, "FULL")) == [
        "error.msg.client.verify.ssn.itin.or.physical.id.missing"
    ]
    add_identifier(api, client_id, documentType="SSN", documentKey=SSN)
    upgraded = verify(api, client_id, "FULL")
    assert upgraded.status_code == 200, upgraded.text
    client = api.get(f"/v1/clients/{client_id}").json()
    assert client["kycVerificationType"] == "FULL"
    assert client["status"]["value"] == "Verified"
    assert count_events(database, "applicant.verified") == 2
    assert error_codes(verify(api, client_id, "FULL")) == [
        "error.msg.client.verify.already.verified"
    ]


def test_activate_only_from_verified(api: Api) -> None:
    client_id = partial_ready_client(api)
    assert error_codes(api.post(f"/v1/clients/{client_id}?command=activate")) == [
        "error.msg.client.activate.not.verified"
    ]
    verify(api, client_id)
    assert api.post(f"/v1/clients/{client_id}?command=activate").status_code == 200
    assert error_codes(api.post(f"/v1/clients/{client_id}?command=activate")) == [
        "error.msg.client.activate.already.active"
    ]


def test_activation_rechecks_the_requirements(api: Api) -> None:
    client_id = partial_ready_client(api)
    assert verify(api, client_id).status_code == 200
    # A new, unproven mobile number: the client no longer meets PARTIAL.
    api.put(f"/v1/clients/{client_id}", json={"mobileNo": "+4915199999999"})
    response = api.post(f"/v1/clients/{client_id}?command=activate")
    assert error_codes(response) == ["error.msg.client.verify.mobile.not.verified"]
    assert "no longer meets" in response.json()["developerMessage"]
    verify_contacts(api, client_id, email=False)
    assert api.post(f"/v1/clients/{client_id}?command=activate").status_code == 200


def test_reject_withdraw_close_reactivate(api: Api, database: Database) -> None:
    rejected = partial_ready_client(api)
    r = api.post(f"/v1/clients/{rejected}?command=reject", json={"note": "fraud ring"})
    assert r.status_code == 200
    assert (
        api.get(f"/v1/clients/{rejected}").json()["status"]["code"] == "clientStatusType.rejected"
    )
    assert error_codes(verify(api, rejected)) == ["error.msg.client.verify.invalid.status"]
    assert api.post(f"/v1/clients/{rejected}?command=undoRejection").status_code == 200
    assert api.get(f"/v1/clients/{rejected}").json()["status"]["value"] == "Pending"

    withdrawn = partial_ready_client(api)
    assert api.post(f"/v1/clients/{withdrawn}?command=withdraw").status_code == 200
    assert api.get(f"/v1/clients/{withdrawn}").json()["status"]["value"] == "Withdrawn"
    assert api.post(f"/v1/clients/{withdrawn}?command=undoWithdrawal").status_code == 200

    closed = partial_ready_client(api)
    assert error_codes(api.post(f"/v1/clients/{closed}?command=close")) == [
        "error.msg.client.close.invalid.status"
    ]
    verify(api, closed)
    api.post(f"/v1/clients/{closed}?command=activate")
    assert api.post(f"/v1/clients/{closed}?command=close").status_code == 200
    assert api.get(f"/v1/clients/{closed}").json()["timeline"]["closedOnDate"] is not None
    reopened = api.post(f"/v1/clients/{closed}?command=reactivate")
    assert reopened.status_code == 200
    client = api.get(f"/v1/clients/{closed}").json()
    # Back to Pending: it has to pass the gate again.
    assert client["status"]["value"] == "Pending"
    assert client["subStatus"] is None and client["kycVerificationType"] is None
    assert client["timeline"]["closedOnDate"] is None
    assert error_codes(api.post(f"/v1/clients/{closed}?command=activate")) == [
        "error.msg.client.activate.not.verified"
    ]
    assert count_events(database, "applicant.reactivated") == 3
    assert count_events(database, "applicant.rejected") == 1


@pytest.mark.parametrize(
    ("query", "body", "field"),
    [
        ("?command=fly", None, "command"),
        ("", None, "command"),
        ("?command=verify", {}, "kycVerificationType"),
        ("?command=verify", {"kycVerificationType": "HALF"}, "kycVerificationType"),
        ("?command=activate", {"kycVerificationType": "FULL"}, "kycVerificationType"),
        ("?command=activate", {"closureDate": "2020-01-01"}, "closureDate"),
        ("?command=reject", {"rejectionDate": "2999-01-01"}, "rejectionDate"),
        ("?command=reject", {"colour": "red"}, "colour"),
    ],
)
def test_bad_commands_answer_400_naming_the_field(
    api: Api, query: str, body: dict[str, str] | None, field: str
) -> None:
    client_id = partial_ready_client(api)
    response = api.post(f"/v1/clients/{client_id}{query}", json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["httpStatusCode"] == "400"
    assert [e["parameterName"] for e in payload["errors"]] == [field]
    assert payload["details"][0]["field"] == field
    assert api.get(f"/v1/clients/{client_id}").json()["status"]["value"] == "Pending"


def test_command_dates_follow_fineract_date_format(api: Api) -> None:
    client_id = partial_ready_client(api, submittedOnDate="2020-01-01")
    verify(api, client_id)
    response = api.post(
        f"/v1/clients/{client_id}?command=activate",
        json={"activationDate": "02 March 2021", "dateFormat": "dd MMMM yyyy", "locale": "en"},
    )
    assert response.status_code == 200, response.text
    assert api.get(f"/v1/clients/{client_id}").json()["activationDate"] == "2021-03-02"


def test_other_tenants_client_answers_404(api: Api, api_as: Callable[..., Api]) -> None:
    client_id = partial_ready_client(api)
    other = api_as(tenant="other-co")
    assert other.get(f"/v1/clients/{client_id}").status_code == 404
    response = verify(other, client_id)
    assert response.status_code == 404
    assert response.json()["userMessageGlobalisationCode"] == "error.msg.resource.not.found"


def test_commands_need_the_update_scope(api_as: Callable[..., Api], api: Api) -> None:
    client_id = partial_ready_client(api)
    reader = api_as(scopes=["kyc:read"])
    assert reader.get(f"/v1/clients/{client_id}").status_code == 200
    response = verify(reader, client_id)
    assert response.status_code == 403
    assert response.json()["userMessageGlobalisationCode"] == "error.msg.not.authorized"


# --- product configuration -------------------------------------------------

STRICT = {
    "kyc_verification_types": {
        "PARTIAL": {"requirements": ["VERIFIED_EMAIL", "PROOF_OF_ADDRESS_DOCUMENT"]},
        "FULL": {"requirements": ["VERIFIED_EMAIL", "PROOF_OF_ADDRESS_DOCUMENT", "DATE_OF_BIRTH"]},
    },
    "accept_unreviewed_documents": False,
}


def test_admin_api_sets_the_tenants_requirements(api: Api, api_as: Callable[..., Api]) -> None:
    assert api.get("/v1/lifecycle/requirements").json()["source"] == "default"
    saved = api.put("/v1/lifecycle/requirements", json=STRICT)
    assert saved.status_code == 200, saved.text
    assert saved.json()["source"] == "tenant"

    client_id = create_client(api, address=[])
    verify_contacts(api, client_id, mobile=False)
    assert error_codes(verify(api, client_id)) == [
        "error.msg.client.verify.proof.of.address.missing"
    ]
    bill = upload_document(api, client_id, "UTILITY_BILL")
    document_id = bill.json()["resourceId"]
    # Unreviewed documents do not count under this configuration.
    assert error_codes(verify(api, client_id)) == [
        "error.msg.client.verify.proof.of.address.missing"
    ]
    approve = api.post(f"/v1/clients/{client_id}/documents/{document_id}?command=approve")
    assert approve.status_code == 200, approve.text
    assert verify(api, client_id).status_code == 200

    # Another tenant keeps the defaults.
    assert api_as(tenant="other-co").get("/v1/lifecycle/requirements").json()["source"] == (
        "default"
    )
    reset = api.delete("/v1/lifecycle/requirements")
    assert reset.json()["source"] == "default"


def test_admin_api_refuses_bad_configurations_and_non_admins(
    api: Api, api_as: Callable[..., Api]
) -> None:
    bad = {
        "kyc_verification_types": {
            "PARTIAL": {"requirements": ["VERIFIED_EMAIL"]},
            "FULL": {"requirements": ["VERIFIED_MOBILE"]},
        }
    }
    response = api.put("/v1/lifecycle/requirements", json=bad)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    unknown = {**STRICT, "kyc_verification_types": {"PARTIAL": {"requirements": ["TELEPATHY"]}}}
    assert api.put("/v1/lifecycle/requirements", json=unknown).status_code == 400
    updater = api_as(scopes=["kyc:read", "kyc:update"])
    assert updater.put("/v1/lifecycle/requirements", json=STRICT).status_code == 403
    assert updater.get("/v1/lifecycle/requirements").status_code == 403


def test_config_file_sets_the_installation_defaults(
    app_client: TestClient, api: Api, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "lifecycle.yaml"
    path.write_text(
        "kyc_verification_types:\n"
        "  PARTIAL:\n    requirements: [DATE_OF_BIRTH]\n"
        "  FULL:\n    requirements: [DATE_OF_BIRTH, VERIFIED_EMAIL]\n"
    )
    app = app_client.app
    app.state.settings = settings.model_copy(update={"lifecycle_config": path})  # type: ignore[attr-defined]
    current = api.get("/v1/lifecycle/requirements").json()
    assert current["source"] == "file"
    assert current["kyc_verification_types"]["PARTIAL"]["requirements"] == ["DATE_OF_BIRTH"]
    client_id = create_client(api, dateOfBirth=None, address=[])
    assert error_codes(verify(api, client_id)) == ["error.msg.client.verify.date.of.birth.missing"]
    api.put(f"/v1/clients/{client_id}", json={"dateOfBirth": "1970-01-01"})
    assert verify(api, client_id).status_code == 200
    # A tenant's own configuration wins over the file.
    api.put("/v1/lifecycle/requirements", json=STRICT)
    assert api.get("/v1/lifecycle/requirements").json()["source"] == "tenant"


def test_verification_level_interface(api: Api, database: Database, creds: Credentials) -> None:
    from kycd.lifecycle.service import verification_level
    from kycd.tenancy.context import RequestContext

    client_id = partial_ready_client(api)
    ctx = RequestContext(creds.tenant_id, "sandbox")
    with database.session() as db:
        assert verification_level(db, ctx, client_id) is None
    verify(api, client_id)
    with database.session() as db:
        assert verification_level(db, ctx, client_id) == "PARTIAL"
    api.post(f"/v1/clients/{client_id}?command=reject")
    with database.session() as db:
        assert verification_level(db, ctx, client_id) is None
