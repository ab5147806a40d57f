"""``/v1/clients``: create, read, update; addresses and contacts."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from client_factories import client_payload, create_client
from conftest import Api
from kycd.db import Database
from kycd.events.models import Event


def test_create_answers_fineract_ids_and_a_pending_client(api: Api) -> None:
    response = api.post("/v1/clients", json=client_payload(externalId="ext-42"))
    assert response.status_code == 200
    body = response.json()
    assert body["clientId"] == body["resourceId"]
    assert body["resourceExternalId"] == "ext-42"
    client = api.get(f"/v1/clients/{body['clientId']}").json()
    assert client["externalId"] == "ext-42"
    assert client["status"] == {"id": 100, "code": "clientStatusType.pending", "value": "Pending"}
    assert client["subStatus"] is None
    assert client["legalForm"]["value"] == "PERSON"
    assert client["displayName"].startswith("Grace Hopper")
    assert client["emailVerified"] is False and client["mobileNoVerified"] is False
    assert client["timeline"]["submittedOnDate"] is not None
    # One customer row: the Customers API finds it by its client_id.
    listed = api.get("/v1/customers?client_id=ext-42").json()["data"]
    assert [c["id"] for c in listed] == [body["clientId"]]


def test_create_reads_fineract_date_format_and_entities(api: Api) -> None:
    response = api.post(
        "/v1/clients",
        json=client_payload(
            dateFormat="dd MMMM yyyy",
            locale="en",
            dateOfBirth="09 December 1986",
            submittedOnDate="01 March 2024",
        ),
    )
    client = api.get(f"/v1/clients/{response.json()['clientId']}").json()
    assert client["dateOfBirth"] == "1986-12-09"
    assert client["timeline"]["submittedOnDate"] == "2024-03-01"
    entity = api.post(
        "/v1/clients",
        json={"legalFormId": 2, "fullname": "Acme Ltd", "externalId": "acme-1"},
    )
    assert entity.status_code == 200, entity.text
    client = api.get(f"/v1/clients/{entity.json()['clientId']}").json()
    assert client["legalForm"]["value"] == "ENTITY"
    assert client["displayName"] == "Acme Ltd"
    assert api.get(f"/v1/customers/{client['id']}").json()["type"] == "business"


def test_create_without_external_id_gets_one(api: Api) -> None:
    response = api.post("/v1/clients", json=client_payload(externalId=None))
    assert response.status_code == 200
    assert response.json()["resourceExternalId"]


def test_create_validation_errors_name_each_parameter(api: Api) -> None:
    response = api.post(
        "/v1/clients",
        json=client_payload(
            mobileNo="12", emailAddress="nope", dateOfBirth="2999-01-01", legalFormId=7
        ),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["httpStatusCode"] == "400"
    assert body["userMessageGlobalisationCode"] == "validation.msg.validation.errors.exist"
    params = {e["parameterName"] for e in body["errors"]}
    assert params == {"mobileNo", "emailAddress", "dateOfBirth", "legalFormId"}
    assert all(
        e["userMessageGlobalisationCode"].startswith("validation.msg.client.")
        for e in body["errors"]
    )
    missing = api.post("/v1/clients", json=client_payload(lastname=None))
    assert [e["parameterName"] for e in missing.json()["errors"]] == ["lastname"]


def test_duplicate_external_id_and_active_flag_are_refused(api: Api) -> None:
    create_client(api, externalId="dup-1")
    duplicate = api.post("/v1/clients", json=client_payload(externalId="dup-1"))
    assert duplicate.status_code == 409
    active = api.post("/v1/clients", json=client_payload(active=True))
    assert active.status_code == 403
    assert active.json()["errors"][0]["userMessageGlobalisationCode"] == (
        "error.msg.client.activation.requires.verification"
    )


def test_update_changes_sent_fields_and_resets_contact_verification(api: Api) -> None:
    client_id = create_client(api)
    client = api.get(f"/v1/clients/{client_id}").json()
    api.post(
        f"/v1/clients/{client_id}/contacts?command=verifyEmail",
        json={"emailAddress": client["emailAddress"]},
    )
    response = api.put(
        f"/v1/clients/{client_id}",
        json={"firstname": "Ada", "emailAddress": "ada@example.net"},
    )
    assert response.status_code == 200
    assert response.json()["changes"] == {"firstname": "Ada", "emailAddress": "ada@example.net"}
    client = api.get(f"/v1/clients/{client_id}").json()
    assert client["firstname"] == "Ada"
    assert client["lastname"].startswith("Hopper")
    assert client["emailVerified"] is False
    for field in ("emailVerified", "externalId"):
        refused = api.put(f"/v1/clients/{client_id}", json={field: True})
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["parameterName"] == field


def test_contact_verification_is_an_explicit_recorded_action(api: Api, database: Database) -> None:
    client_id = create_client(api, mobileNo="+14155552671")
    client = api.get(f"/v1/clients/{client_id}").json()
    wrong = api.post(
        f"/v1/clients/{client_id}/contacts?command=verifyEmail",
        json={"emailAddress": "someone.else@example.com"},
    )
    assert wrong.status_code == 403
    assert wrong.json()["errors"][0]["userMessageGlobalisationCode"] == (
        "error.msg.client.contact.email.mismatch"
    )
    ok = api.post(
        f"/v1/clients/{client_id}/contacts?command=verifyMobile",
        json={"mobileNo": "+1 415-555-2671", "verificationMethod": "OTP"},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["changes"] == {"mobileNoVerified": True}
    again = api.post(
        f"/v1/clients/{client_id}/contacts?command=verifyMobile",
        json={"mobileNo": "+14155552671"},
    )
    assert again.status_code == 200 and again.json()["changes"] == {}
    contacts = api.get(f"/v1/clients/{client_id}/contacts").json()
    assert contacts["mobileNoVerified"] is True
    assert contacts["mobileNoVerificationMethod"] == "OTP"
    assert contacts["mobileNoVerifiedOn"] is not None
    assert contacts["emailVerified"] is False and contacts["emailAddress"] == client["emailAddress"]
    with database.session() as db:
        events = db.scalars(select(Event).where(Event.type == "applicant.phone_verified")).all()
    assert len(events) == 1
    assert "+14155552671" not in str(events[0].payload)

    bad = api.post(f"/v1/clients/{client_id}/contacts?command=verifyFax", json={})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["parameterName"] == "command"
    no_value = api.post(f"/v1/clients/{client_id}/contacts?command=verifyEmail", json={})
    assert no_value.json()["errors"][0]["parameterName"] == "emailAddress"


def test_contact_without_a_value_cannot_be_verified(api: Api) -> None:
    client_id = create_client(api, emailAddress=None)
    response = api.post(
        f"/v1/clients/{client_id}/contacts?command=verifyEmail",
        json={"emailAddress": "x@example.com"},
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["userMessageGlobalisationCode"] == (
        "error.msg.client.contact.email.missing"
    )


ADDRESS = {
    "addressType": "BUSINESS",
    "isPrimary": True,
    "addressLine1": "1 Main Street",
    "addressLine2": "Suite 5",
    "city": "Springfield",
    "postalCode": "62701",
    "stateProvince": "IL",
    "countryCode": "us",
}


def test_addresses_are_the_customers_addresses(api: Api) -> None:
    client_id = create_client(api)
    added = api.post(f"/v1/clients/{client_id}/addresses", json=ADDRESS)
    assert added.status_code == 200, added.text
    address = added.json()
    assert address["countryCode"] == "US" and address["addressType"] == "BUSINESS"
    listed = api.get(f"/v1/clients/{client_id}/addresses").json()
    assert len(listed) == 2
    # The new primary address demoted the one given at creation.
    assert [a["isPrimary"] for a in listed] == [False, True]
    customer = api.get(f"/v1/customers/{client_id}").json()
    assert {a["id"] for a in customer["addresses"]} == {a["addressId"] for a in listed}
    assert [a["is_primary"] for a in customer["addresses"]] == [False, True]


def test_address_update_in_both_forms(api: Api) -> None:
    client_id = create_client(api, address=[])
    address_id = api.post(f"/v1/clients/{client_id}/addresses", json=ADDRESS).json()["addressId"]
    by_path = api.put(
        f"/v1/clients/{client_id}/addresses/{address_id}", json={"city": "Shelbyville"}
    )
    assert by_path.status_code == 200 and by_path.json()["city"] == "Shelbyville"
    by_body = api.put(
        f"/v1/clients/{client_id}/addresses",
        json={"addressId": address_id, "addressType": "mailing", "postalCode": None},
    )
    assert by_body.status_code == 200, by_body.text
    assert by_body.json()["addressType"] == "MAILING" and by_body.json()["postalCode"] is None
    assert api.put(f"/v1/clients/{client_id}/addresses", json={"city": "X"}).status_code == 400
    cleared = api.put(
        f"/v1/clients/{client_id}/addresses/{address_id}", json={"addressLine1": None}
    )
    assert cleared.status_code == 400
    assert cleared.json()["errors"][0]["parameterName"] == "addressLine1"
    bad_country = api.post(
        f"/v1/clients/{client_id}/addresses", json={**ADDRESS, "countryCode": "XX"}
    )
    assert bad_country.status_code == 400
    assert bad_country.json()["errors"][0]["userMessageGlobalisationCode"] == (
        "validation.msg.address.countryCode.invalid"
    )


def test_addresses_of_another_tenant_answer_404(api: Api, api_as: Callable[..., Api]) -> None:
    client_id = create_client(api)
    address_id = api.get(f"/v1/clients/{client_id}/addresses").json()[0]["addressId"]
    other = api_as(tenant="other-co")
    assert other.get(f"/v1/clients/{client_id}/addresses").status_code == 404
    assert other.post(f"/v1/clients/{client_id}/addresses", json=ADDRESS).status_code == 404
    other_client = create_client(other)
    response = other.put(
        f"/v1/clients/{other_client}/addresses/{address_id}", json={"city": "Hijack"}
    )
    assert response.status_code == 404


def test_list_pages_and_finds_by_external_id(api: Api, api_as: Callable[..., Api]) -> None:
    ids = [create_client(api, externalId=f"page-{n}") for n in range(3)]
    create_client(api_as(tenant="other-co"))
    page = api.get("/v1/clients?offset=1&limit=1").json()
    assert page["totalFilteredRecords"] == 3
    assert [c["id"] for c in page["pageItems"]] == [ids[1]]
    found = api.get("/v1/clients?externalId=page-2").json()
    assert [c["externalId"] for c in found["pageItems"]] == ["page-2"]
    bad = api.get("/v1/clients?limit=0")
    assert bad.status_code == 400 and bad.json()["errors"][0]["parameterName"] == "limit"


def test_missing_credentials_answer_401_in_fineract_shape(app_client: TestClient) -> None:
    response = app_client.get("/v1/clients/abc")
    assert response.status_code == 401
    body = response.json()
    assert body["httpStatusCode"] == "401"
    assert body["userMessageGlobalisationCode"] == "error.msg.not.authenticated"
