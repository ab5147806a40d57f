"""``/v1/clients/{clientId}/identifiers``: validated, encrypted, always masked."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select, text

from client_factories import SSN, add_identifier, create_client
from conftest import Api
from kycd.db import Database
from kycd.events.models import Event
from kycd.identifiers.models import Identifier
from kycd.identifiers.service import list_identifiers
from kycd.tenancy.context import RequestContext

CLEAR = "078051121"


def test_ssn_is_stored_encrypted_and_shown_masked(
    api: Api, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client_id = create_client(api)
    created = add_identifier(api, client_id, documentType="ssn", documentKey=SSN)
    assert created.status_code == 200, created.text
    identifier_id = created.json()["resourceId"]
    assert created.json()["clientId"] == client_id

    listed = api.get(f"/v1/clients/{client_id}/identifiers")
    one = api.get(f"/v1/clients/{client_id}/identifiers/{identifier_id}")
    assert listed.json() == [one.json()]
    body = one.json()
    assert body["documentKey"] == "****1121"
    assert body["documentType"] == "SSN" and body["issuingCountry"] == "US"
    assert body["status"] == "ACTIVE" and body["expired"] is False

    # The clear number appears in no response, event, log line or column.
    for response in (created, listed, one):
        assert CLEAR not in response.text and SSN not in response.text
    with database.session() as db:
        payloads = [str(e.payload) for e in db.scalars(select(Event)).all()]
        rows = db.execute(text("SELECT * FROM client_identifiers")).all()
    assert not any(CLEAR in p or "1121" in p for p in payloads)
    assert not any(CLEAR in str(row) for row in rows)
    assert CLEAR.encode() not in bytes(rows[0].key_ciphertext)
    assert CLEAR not in caplog.text and SSN not in caplog.text


def test_list_identifiers_interface(api: Api, database: Database) -> None:
    client_id = create_client(api)
    add_identifier(
        api,
        client_id,
        documentType="PASSPORT",
        documentKey="C01X00T47",
        issuingCountry="DE",
        expiryDate="2030-05-01",
    )
    tenant_id = _tenant_of(database, client_id)
    with database.session() as db:
        rows = list_identifiers(db, RequestContext(tenant_id, "sandbox"), client_id)
        other = list_identifiers(db, RequestContext("someone-else", "sandbox"), client_id)
    assert [(r.document_type, r.expiry_date.isoformat(), r.masked_key) for r in rows] == [
        ("PASSPORT", "2030-05-01", "****0T47")
    ]
    assert other == []


def _tenant_of(database: Database, customer_id: str) -> str:
    with database.session() as db:
        return str(
            db.execute(
                text("SELECT tenant_id FROM customers WHERE id = :id"), {"id": customer_id}
            ).scalar_one()
        )


MALFORMED = [
    ({"documentType": "SSN", "documentKey": "000-12-3456"}, "documentKey"),
    ({"documentType": "SSN", "documentKey": "12-3"}, "documentKey"),
    ({"documentType": "ITIN", "documentKey": "123-45-6789"}, "documentKey"),
    ({"documentType": "EIN", "documentKey": "00-0000000"}, "documentKey"),
    ({"documentType": "SSN", "documentKey": SSN, "issuingCountry": "CA"}, "issuingCountry"),
    ({"documentType": "NATIONAL_ID", "documentKey": "111222333"}, "issuingCountry"),
    (
        {"documentType": "NATIONAL_ID", "documentKey": "111222334", "issuingCountry": "NL"},
        "documentKey",
    ),
    ({"documentType": "TAX_ID", "documentKey": "3657426", "issuingCountry": "DE"}, "documentKey"),
    ({"documentType": "PASSPORT", "documentKey": "<>", "issuingCountry": "FR"}, "documentKey"),
    ({"documentType": "LIBRARY_CARD", "documentKey": "1234"}, "documentType"),
    ({"documentKey": SSN}, "documentType"),
    ({"documentType": "SSN", "documentKey": SSN, "expiryDate": "01/01/2030"}, "expiryDate"),
]


def test_malformed_identifiers_answer_400_naming_the_field(api: Api) -> None:
    client_id = create_client(api)
    for body, field in MALFORMED:
        response = add_identifier(api, client_id, **body)
        assert response.status_code == 400, (body, response.text)
        errors = response.json()["errors"]
        assert [e["parameterName"] for e in errors] == [field], body
        assert errors[0]["value"] is None
        key = body.get("documentKey", "")
        assert len(key) < 4 or key not in response.text
    assert api.get(f"/v1/clients/{client_id}/identifiers").json() == []


VALID = [
    ("NATIONAL_ID", "NL", "111222333", "****2333"),
    ("TAX_ID", "DE", "36 574 261 809", "****1809"),
    ("NATIONAL_ID", "ES", "54362315K", "****315K"),
    ("TAX_ID", "US", "91-1144442", "****4442"),
    ("DRIVERS_LICENSE", "GB", "MORGA753116SM9IJ", "****M9IJ"),
]


def test_valid_numbers_of_other_countries(api: Api) -> None:
    client_id = create_client(api)
    for document_type, country, key, _ in VALID:
        response = add_identifier(
            api, client_id, documentType=document_type, documentKey=key, issuingCountry=country
        )
        assert response.status_code == 200, response.text
    listed = api.get(f"/v1/clients/{client_id}/identifiers").json()
    assert [i["documentKey"] for i in listed] == [masked for *_, masked in VALID]


def test_duplicates_are_refused(api: Api) -> None:
    first = create_client(api)
    second = create_client(api)
    assert add_identifier(api, first, documentType="SSN", documentKey=SSN).status_code == 200
    again = add_identifier(api, first, documentType="SSN", documentKey="536-22-8726")
    assert again.status_code == 403
    assert again.json()["errors"][0]["userMessageGlobalisationCode"] == (
        "error.msg.clientIdentifier.type.duplicate"
    )
    # The same number, written differently, on another client.
    taken = add_identifier(api, second, documentType="SSN", documentKey="078 05 1121")
    assert taken.status_code == 403
    assert taken.json()["errors"][0]["userMessageGlobalisationCode"] == (
        "error.msg.clientIdentifier.documentKey.duplicate"
    )


def test_delete_removes_the_identifier_and_records_it(api: Api, database: Database) -> None:
    client_id = create_client(api)
    identifier_id = add_identifier(api, client_id, documentType="SSN", documentKey=SSN).json()[
        "resourceId"
    ]
    deleted = api.delete(f"/v1/clients/{client_id}/identifiers/{identifier_id}")
    assert deleted.status_code == 200
    assert deleted.json() == {
        "clientId": client_id,
        "resourceId": identifier_id,
        "resourceExternalId": None,
        "changes": {},
    }
    assert api.get(f"/v1/clients/{client_id}/identifiers").json() == []
    assert api.delete(f"/v1/clients/{client_id}/identifiers/{identifier_id}").status_code == 404
    with database.session() as db:
        types = [e.type for e in db.scalars(select(Event).order_by(Event.seq)).all()]
        assert db.scalars(select(Identifier)).all() == []
    assert types[-2:] == ["applicant.identifier_added", "applicant.identifier_deleted"]
    # The number is free again.
    assert add_identifier(api, client_id, documentType="SSN", documentKey=SSN).status_code == 200


def test_other_tenants_identifiers_answer_404(api: Api, api_as: Callable[..., Api]) -> None:
    client_id = create_client(api)
    identifier_id = add_identifier(api, client_id, documentType="SSN", documentKey=SSN).json()[
        "resourceId"
    ]
    other = api_as(tenant="other-co")
    assert other.get(f"/v1/clients/{client_id}/identifiers").status_code == 404
    assert other.get(f"/v1/clients/{client_id}/identifiers/{identifier_id}").status_code == 404
    assert other.delete(f"/v1/clients/{client_id}/identifiers/{identifier_id}").status_code == 404
    # Numbers are unique per tenant: another tenant may register the same one.
    other_client = create_client(other)
    assert (
        add_identifier(other, other_client, documentType="SSN", documentKey=SSN).status_code == 200
    )
