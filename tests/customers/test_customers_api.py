from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from compliance.compliance_fixtures import ctx_of
from conftest import Api, drop_loop_connections
from factories import customer_payload
from kycd.customers import service
from kycd.db import Database


def test_create_returns_201_with_the_profile(api: Api) -> None:
    response = api.post("/v1/customers", json=customer_payload(client_id="c-1", nationality="de"))
    assert response.status_code == 201
    body = response.json()
    assert body["client_id"] == "c-1"
    assert body["status"] == "pending"
    assert body["nationality"] == "DE"
    assert body["email_verified"] is False
    assert body["addresses"][0]["is_primary"] is True
    assert api.get(f"/v1/customers/{body['id']}").json() == body


def test_duplicate_client_id_answers_409(api: Api) -> None:
    assert api.post("/v1/customers", json=customer_payload(client_id="dup")).status_code == 201
    response = api.post("/v1/customers", json=customer_payload(client_id="dup"))
    assert response.status_code == 409
    assert response.json()["code"] == "customer_exists"


def test_invalid_fields_answer_400_naming_each_field(api: Api) -> None:
    response = api.post(
        "/v1/customers",
        json=customer_payload(
            nationality="XX", phone="12", email="nope", date_of_birth="2999-01-01", colour="red"
        ),
    )
    assert response.status_code == 400
    body = response.json()
    fields = {d["field"] for d in body["details"]}
    assert fields == {"nationality", "phone", "email", "date_of_birth", "colour"}
    assert body["code"] == "validation_error"
    assert body["traceId"]
    assert api.get("/v1/customers").json()["pagination"]["total"] == 0


def test_malformed_json_answers_400(api: Api) -> None:
    response = api.post(
        "/v1/customers", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_unknown_customer_answers_404(api: Api) -> None:
    response = api.get("/v1/customers/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_read_shows_what_the_write_answered(api: Api, database: Database) -> None:
    # GET reads the customer on the event loop (one statement for the reads
    # that arrive together); POST and PATCH answer through the ORM.
    address = customer_payload()["addresses"][0]
    payload = customer_payload(
        first_name="Zoë",
        middle_name="Ŝ",
        metadata={"tier": "gold", "score": 0.1, "big": 1e20, "nested": {"list": [1, "ü", None]}},
        addresses=[
            address,
            {**address, "type": "mailing", "is_primary": False, "line2": "Hinterhaus"},
            {**address, "type": "business", "is_primary": False, "state": "BE"},
        ],
    )
    created = api.post("/v1/customers", json=payload)
    assert created.status_code == 201
    customer_id = created.json()["id"]
    url = f"/v1/customers/{customer_id}"
    read = api.get(url)
    assert read.headers["content-type"] == "application/json"
    # PostgreSQL's jsonb orders the metadata's keys its own way.
    assert read.json() == created.json()
    # Rendered byte for byte as a read through a session renders it.
    ctx = ctx_of(database, customer_id)
    assert read.text == service.customer_json_with_session(database, ctx, customer_id)
    patched = api.patch(url, json={"addresses": [address], "email": None})
    assert patched.status_code == 200
    assert api.get(url).json() == patched.json()
    bare = api.post("/v1/customers", json=customer_payload(addresses=[], metadata={}))
    assert api.get(f"/v1/customers/{bare.json()['id']}").content == bare.content


def test_a_customer_is_read_only_in_its_own_tenant_and_environment(
    api: Api, api_as: Callable[..., Api]
) -> None:
    customer_id = api.post("/v1/customers", json=customer_payload()).json()["id"]
    for other in (api_as(tenant="globex"), api_as(environment="production")):
        response = other.get(f"/v1/customers/{customer_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert api.get(f"/v1/customers/{customer_id}").status_code == 200


def test_a_failed_read_on_the_loop_is_retried_with_a_session(
    api: Api, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    created = api.post("/v1/customers", json=customer_payload())
    url = f"/v1/customers/{created.json()['id']}"
    assert api.get(url).json() == created.json()  # read on the loop
    assert drop_loop_connections(database, service._VIEW_STATEMENT) >= 1
    with caplog.at_level(logging.WARNING, logger="kycd.db"):
        assert api.get(url).json() == created.json()
    assert "read on the event loop failed" in caplog.text
    missing = api.get("/v1/customers/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404


def test_patch_changes_only_sent_fields_and_resets_verification(api: Api) -> None:
    created = api.post("/v1/customers", json=customer_payload()).json()
    response = api.patch(
        f"/v1/customers/{created['id']}", json={"occupation": "Pilot", "middle_name": None}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["occupation"] == "Pilot"
    assert body["first_name"] == created["first_name"]
    assert body["updated_at"] > created["updated_at"]


def test_patch_cannot_set_verified_flags_or_client_id(api: Api) -> None:
    created = api.post("/v1/customers", json=customer_payload()).json()
    for field, value in (("email_verified", True), ("client_id", "other"), ("type", "business")):
        response = api.patch(f"/v1/customers/{created['id']}", json={field: value})
        assert response.status_code == 400, field
        assert response.json()["details"][0]["field"] == field


def test_patch_replaces_addresses_and_rejects_two_primaries(api: Api) -> None:
    created = api.post("/v1/customers", json=customer_payload()).json()
    address = {"line1": "Main St 1", "city": "Vienna", "country": "AT", "is_primary": True}
    response = api.patch(f"/v1/customers/{created['id']}", json={"addresses": [address, address]})
    assert response.status_code == 400
    response = api.patch(f"/v1/customers/{created['id']}", json={"addresses": [address]})
    assert [a["city"] for a in response.json()["addresses"]] == ["Vienna"]


def test_delete_deactivates_and_keeps_the_data(api: Api) -> None:
    created = api.post("/v1/customers", json=customer_payload()).json()
    response = api.delete(f"/v1/customers/{created['id']}")
    assert response.status_code == 200
    assert response.json()["status"] == "deactivated"
    kept = api.get(f"/v1/customers/{created['id']}").json()
    assert kept["status"] == "deactivated"
    assert kept["last_name"] == created["last_name"]
    # A second DELETE changes nothing.
    assert api.delete(f"/v1/customers/{created['id']}").json()["status"] == "deactivated"


def test_list_paginates_newest_first(api: Api) -> None:
    ids = [api.post("/v1/customers", json=customer_payload()).json()["id"] for _ in range(5)]
    first = api.get("/v1/customers", params={"page_size": 2}).json()
    assert first["pagination"] == {"page": 1, "page_size": 2, "total": 5, "total_pages": 3}
    seen = [c["id"] for c in first["data"]]
    for page in (2, 3):
        seen += [
            c["id"]
            for c in api.get("/v1/customers", params={"page_size": 2, "page": page}).json()["data"]
        ]
    assert seen == list(reversed(ids))


def test_list_rejects_out_of_range_paging(api: Api) -> None:
    for params in ({"page_size": 0}, {"page_size": 101}, {"page": 0}, {"status": "nope"}):
        response = api.get("/v1/customers", params=params)
        assert response.status_code == 400, params
        assert response.json()["details"][0]["field"] == next(iter(params))


def test_list_filters(api: Api) -> None:
    api.post(
        "/v1/customers",
        json=customer_payload(client_id="p-1", first_name="Grace", last_name="Hopper"),
    )
    business = api.post(
        "/v1/customers",
        json=customer_payload(
            client_id="b-1", type="business", company_name="Hopper Holdings GmbH"
        ),
    ).json()
    api.delete(f"/v1/customers/{business['id']}")

    def client_ids(**params: str) -> list[str]:
        return [c["client_id"] for c in api.get("/v1/customers", params=params).json()["data"]]

    assert client_ids(type="business") == ["b-1"]
    assert client_ids(status="deactivated") == ["b-1"]
    assert client_ids(status="pending") == ["p-1"]
    assert client_ids(client_id="p-1") == ["p-1"]
    assert sorted(client_ids(name="hopper")) == ["b-1", "p-1"]
    assert client_ids(name="grace hop") == ["p-1"]
    assert client_ids(name="100%") == []
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client_ids(created_from=future) == []
    assert sorted(client_ids(created_to=future)) == ["b-1", "p-1"]


def test_changes_are_recorded_as_events(api: Api, database: Database) -> None:
    from sqlalchemy import select

    from kycd.events.models import Event

    created = api.post("/v1/customers", json=customer_payload()).json()
    api.patch(f"/v1/customers/{created['id']}", json={"occupation": "Pilot"})
    api.delete(f"/v1/customers/{created['id']}")
    with database.session() as db:
        events = db.scalars(
            select(Event)
            .where(Event.customer_id == created["id"], Event.type.like("applicant.%"))
            .order_by(Event.seq)
        ).all()
    assert [e.type for e in events] == [
        "applicant.created",
        "applicant.updated",
        "applicant.deactivated",
    ]
    assert events[1].payload["changedFields"] == ["occupation"]
    assert all(e.actor_type == "partner" for e in events)
