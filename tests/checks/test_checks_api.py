# ruff: noqa: F811 - pytest fixtures imported from check_fixtures are redefined as arguments.
"""``/v1/users/{user_id}/checks`` (seed 004): posting, reading, validating, refreshing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from check_fixtures import (  # noqa: F401 - fixtures
    evidence_server,
    make_customer,
    test_ca,
    worker_settings,
)
from check_payloads import (
    SEED_ADDRESS,
    compliance_body,
    instrument_fit_body,
    kyc_body,
    por_body,
    recent,
)
from fastapi.testclient import TestClient
from sqlalchemy import select

from kycd.app import create_app
from kycd.checks.worker import run_evidence_job
from kycd.db import Database, utcnow
from kycd.events.models import Event
from kycd.settings import Settings


def _checks(user_id: str) -> str:
    return f"/v1/users/{user_id}/checks"


def _field_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.text
    return {d["field"]: d["message"] for d in response.json()["details"]}


def test_each_type_is_served_back_field_for_field(
    api: Any, make_customer: Callable[..., str]
) -> None:
    user_id = make_customer()
    bodies = [kyc_body(), instrument_fit_body(), por_body(), compliance_body()]
    ids = []
    for body in bodies:
        response = api.post(_checks(user_id), json=body)
        assert response.status_code == 202, response.text
        assert set(response.json()) == {"id"}
        ids.append(response.json()["id"])

    listed = api.get(_checks(user_id))
    assert listed.status_code == 200
    data = listed.json()["data"]
    assert [c["id"] for c in data] == ids  # oldest first, as the seed lists them
    for body, check in zip(bodies, data, strict=True):
        assert check["user_id"] == user_id
        for field, value in body.items():
            assert check[field] == value, field
        assert api.get(f"{_checks(user_id)}/{check['id']}").json() == check

    kyc, fit, por, compliance = data
    assert kyc["status"] == "ACCEPTED"
    assert kyc["kyc_update"] is False
    assert kyc["evidence"] == {
        "sha256": None,
        "size": None,
        "fetched_at": None,
        "attempts": 0,
        "last_error": None,
        "next_attempt_at": kyc["evidence"]["next_attempt_at"],
    }
    assert por["status"] == "ACCEPTED"
    assert fit["status"] == compliance["status"] == "VALIDATED"
    # Each type carries its own fields only.
    assert "data_download_link" not in fit
    assert "instrument_suitability" not in kyc
    assert set(compliance) == {
        "id",
        "user_id",
        "type",
        "check_confirmed_at",
        "status",
        "provider",
        "failure_reason",
        "created_at",
        "updated_at",
    }


def test_the_seed_kyc_example_is_refused_only_for_its_age(
    api: Any, make_customer: Callable[..., str]
) -> None:
    user_id = make_customer()
    seed = kyc_body(check_confirmed_at="2019-08-24T14:15:22Z")
    errors = _field_errors(api.post(_checks(user_id), json=seed))
    assert errors == {"KYC.check_confirmed_at": "must not be older than 24 months"}


def _in(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


INVALID_BODIES = [
    (kyc_body(check_confirmed_at=recent(-2)), "KYC.check_confirmed_at", "future"),
    (kyc_body(check_confirmed_at=recent(740)), "KYC.check_confirmed_at", "24 months"),
    (kyc_body(check_confirmed_at="yesterday"), "KYC.check_confirmed_at", "datetime"),
    (kyc_body(document_expiration_date=_in(-1)), "KYC.document_expiration_date", "past"),
    (kyc_body(document_expiration_date="2030-02-30"), "KYC.document_expiration_date", "real"),
    (kyc_body(document_expiration_date="01.01.2030"), "KYC.document_expiration_date", "YYYY-MM-DD"),
    (
        kyc_body(document_expiration_date="2030-01-01T00:00:00Z"),
        "KYC.document_expiration_date",
        "YYYY-MM-DD",
    ),
    (kyc_body(nationality="XX"), "KYC.nationality", "ISO 3166-1 alpha-2"),
    (kyc_body(nationality="DEU"), "KYC.nationality", "ISO 3166-1 alpha-2"),
    (
        kyc_body(data_download_link="http://bucket.customer.com/x.zip"),
        "KYC.data_download_link",
        "https",
    ),
    (
        kyc_body(data_download_link="https: //bucket.customer.com/x.zip"),
        "KYC.data_download_link",
        "https",
    ),
    (kyc_body(provider=""), "KYC.provider", "at least 1"),
    (kyc_body(method=None), "KYC.method", "string"),
    (kyc_body(kyc_update="yes"), "KYC.kyc_update", "boolean"),
    (
        kyc_body(confirmed_address={**SEED_ADDRESS, "address_line1": "Postfach 10 01 52"}),
        "KYC.confirmed_address.address_line1",
        "P.O. box or c/o",
    ),
    (
        kyc_body(confirmed_address={**SEED_ADDRESS, "address_line2": "c/o Müller"}),
        "KYC.confirmed_address.address_line2",
        "P.O. box or c/o",
    ),
    (
        kyc_body(confirmed_address={**SEED_ADDRESS, "country": "ZZ"}),
        "KYC.confirmed_address.country",
        "ISO 3166-1",
    ),
    (kyc_body(unexpected="x"), "KYC.unexpected", "Extra inputs"),
    (por_body(issuance_date=_in(3)), "POR.issuance_date", "future"),
    (por_body(confirmed_address=None), "POR.confirmed_address", "valid dictionary"),
    (
        por_body(
            confirmed_address={
                **SEED_ADDRESS,
                "address_line1": "Boîte postale 184",
                "country": "FR",
            }
        ),
        "POR.confirmed_address.address_line1",
        "Boîte postale",
    ),
    (por_body(data_download_link="ftp://x.example/a"), "POR.data_download_link", "https"),
    (
        instrument_fit_body(instrument_suitability={}),
        "INSTRUMENT_FIT.instrument_suitability.suitability",
        "required",
    ),
    (
        instrument_fit_body(instrument_suitability={"suitability": "true"}),
        "INSTRUMENT_FIT.instrument_suitability.suitability",
        "boolean",
    ),
    (compliance_body(check_confirmed_at=recent(-1)), "COMPLIANCE.check_confirmed_at", "future"),
    (
        compliance_body(data_download_link="https://x.example/a"),
        "COMPLIANCE.data_download_link",
        "Extra inputs",
    ),
    ({"type": "AML", "check_confirmed_at": recent()}, "type", "KYC"),
    ({"check_confirmed_at": recent()}, "type", "discriminator"),
]


@pytest.mark.parametrize(("body", "field", "message"), INVALID_BODIES)
def test_invalid_bodies_answer_400_naming_the_field(
    api: Any, make_customer: Callable[..., str], body: dict[str, Any], field: str, message: str
) -> None:
    user_id = make_customer()
    errors = _field_errors(api.post(_checks(user_id), json=body))
    assert field in errors, errors
    assert message in errors[field]
    assert api.get(_checks(user_id)).json()["data"] == []


def test_optional_fields_and_boundaries_are_accepted(
    api: Any, make_customer: Callable[..., str]
) -> None:
    user_id = make_customer()
    today = utcnow().date().isoformat()
    for body in [
        kyc_body(document_expiration_date=today, nationality="de", confirmed_address=None),
        kyc_body(check_confirmed_at=recent(700), kyc_update=False),
        kyc_body(
            confirmed_address={
                "address_line1": "Av. Paseo de la Reforma 505, C.P. 06500",
                "city": "Ciudad de México",
                "country": "MX",
            }
        ),
        por_body(issuance_date=today, provider="Utility Co"),
        instrument_fit_body(False),
        compliance_body(provider="AML provider"),
    ]:
        response = api.post(_checks(user_id), json=body)
        assert response.status_code == 202, response.text
    kyc = api.get(_checks(user_id)).json()["data"][0]
    assert kyc["nationality"] == "DE"
    assert kyc["confirmed_address"] is None


@pytest.fixture
def strict_client(app_client: TestClient, settings: Settings, database: Database) -> Any:
    """An app whose operator has not allowed loopback addresses (same database and
    server secret as ``app_client``)."""
    strict = settings.model_copy(update={"allowed_private_networks": []})
    with TestClient(create_app(strict, database), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    "link",
    [
        "https://127.0.0.1:8443/evidence.zip",
        "https://localhost/evidence.zip",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/evidence.zip",
        "https://10.0.0.8/evidence.zip",
    ],
)
def test_links_to_private_addresses_are_refused_unless_allowed(
    strict_client: TestClient, creds: Any, make_customer: Callable[..., str], link: str
) -> None:
    user_id = make_customer()
    response = strict_client.post(
        _checks(user_id), json=kyc_body(data_download_link=link), headers=creds.bearer
    )
    errors = _field_errors(response)
    assert "non-public address" in errors["data_download_link"]


def test_unknown_users_and_checks_answer_404(api: Any, make_customer: Callable[..., str]) -> None:
    user_id = make_customer()
    assert api.get(_checks("no-such-user")).status_code == 404
    assert api.post(_checks("no-such-user"), json=kyc_body()).status_code == 404
    assert api.get(f"{_checks(user_id)}/no-such-check").status_code == 404


def test_tenants_and_users_are_isolated(
    api: Any, api_as: Callable[..., Any], make_customer: Callable[..., str]
) -> None:
    user_id = make_customer()
    other_user = make_customer()
    check_id = api.post(_checks(user_id), json=kyc_body()).json()["id"]
    url = f"{_checks(user_id)}/{check_id}"

    other = api_as(tenant="globex")
    assert other.get(url).status_code == 404
    assert other.get(_checks(user_id)).status_code == 404
    assert other.post(_checks(user_id), json=compliance_body()).status_code == 404
    production = api_as(environment="production")
    assert production.get(url).status_code == 404
    # Another user of the same tenant does not own the check either.
    assert api.get(f"{_checks(other_user)}/{check_id}").status_code == 404
    assert api.get(_checks(other_user)).json()["data"] == []
    assert [c["id"] for c in api.get(_checks(user_id)).json()["data"]] == [check_id]


def test_scopes(api_as: Callable[..., Any], make_customer: Callable[..., str]) -> None:
    user_id = make_customer()
    reader = api_as(scopes=["kyc:read"])
    creator = api_as(scopes=["kyc:create"])
    assert reader.post(_checks(user_id), json=compliance_body()).status_code == 403
    assert creator.get(_checks(user_id)).status_code == 403
    check_id = creator.post(_checks(user_id), json=compliance_body()).json()["id"]
    assert reader.get(f"{_checks(user_id)}/{check_id}").status_code == 200


def _events(database: Database, event_type: str) -> list[Event]:
    with database.session(read_only=True) as db:
        return list(
            db.scalars(select(Event).where(Event.type == event_type).order_by(Event.seq)).all()
        )


def test_kyc_update_refreshes_the_earlier_kyc_check_in_place(
    api: Any,
    database: Database,
    settings: Settings,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    first = api.post(_checks(user_id), json=kyc_body(document_type="ID_CARD")).json()["id"]
    compliance = api.post(_checks(user_id), json=compliance_body()).json()["id"]
    before = api.get(f"{_checks(user_id)}/{first}").json()

    update = kyc_body(
        kyc_update=True,
        document_type="PASSPORT",
        nationality="AT",
        document_expiration_date="2031-05-06",
        data_download_link="https://bucket.customer.com/ident/user3-2.zip",
    )
    response = api.post(_checks(user_id), json=update)
    assert response.status_code == 202
    assert response.json() == {"id": first}

    data = api.get(_checks(user_id)).json()["data"]
    assert [c["id"] for c in data] == [first, compliance]  # refreshed, not duplicated
    refreshed = data[0]
    assert refreshed["kyc_update"] is True
    assert refreshed["document_type"] == "PASSPORT"
    assert refreshed["nationality"] == "AT"
    assert refreshed["status"] == "ACCEPTED"
    assert refreshed["data_download_link"] == update["data_download_link"]
    [event] = _events(database, "user_check.refreshed")
    assert event.payload["previous"] == before
    assert event.payload["check"] == refreshed


def test_kyc_update_without_an_earlier_kyc_check_records_a_new_one(
    api: Any, make_customer: Callable[..., str]
) -> None:
    user_id = make_customer()
    response = api.post(_checks(user_id), json=kyc_body(kyc_update=True))
    assert response.status_code == 202
    [check] = api.get(_checks(user_id)).json()["data"]
    assert check["id"] == response.json()["id"]
    assert check["kyc_update"] is True


def test_a_decided_kyc_check_is_refreshed_and_decided_again(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: Any,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    missing = kyc_body(data_download_link=evidence_server.url("/missing"))
    check_id = api.post(_checks(user_id), json=missing).json()["id"]
    run_evidence_job(database, worker_settings, utcnow())
    assert api.get(f"{_checks(user_id)}/{check_id}").json()["failure_reason"] == (
        "EVIDENCE_UNAVAILABLE"
    )

    fixed = kyc_body(
        kyc_update=True, nationality="FR", data_download_link=evidence_server.url("/ok/2.zip")
    )
    assert api.post(_checks(user_id), json=fixed).json() == {"id": check_id}
    check = api.get(f"{_checks(user_id)}/{check_id}").json()
    assert (check["status"], check["failure_reason"], check["nationality"]) == (
        "ACCEPTED",
        None,
        "FR",
    )
    assert check["evidence"]["attempts"] == 0
    assert check["evidence"]["last_error"] is None

    run_evidence_job(database, worker_settings, utcnow())
    assert api.get(f"{_checks(user_id)}/{check_id}").json()["status"] == "PASSED"
    assert [e.payload["id"] for e in _events(database, "USER_CHECK.FAILED")] == [check_id]
    assert [e.payload["id"] for e in _events(database, "USER_CHECK.PASSED")] == [check_id]
