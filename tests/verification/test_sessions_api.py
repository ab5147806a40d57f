from __future__ import annotations

from conftest import Api
from factories import customer_payload


def test_session_for_unknown_client_id_creates_the_customer(api: Api) -> None:
    response = api.post("/v1/sessions", json={"client_id": "new-user"})
    assert response.status_code == 201
    session = response.json()
    assert session["client_id"] == "new-user"
    assert session["level_name"] == "KYC_01"
    assert session["status"] == "created"
    assert session["verification_url"].startswith("http://127.0.0.1:8000/verify/")
    customers = api.get("/v1/customers", params={"client_id": "new-user"}).json()["data"]
    assert [c["id"] for c in customers] == [session["customer_id"]]


def test_session_for_existing_customer_by_either_reference(api: Api) -> None:
    customer = api.post("/v1/customers", json=customer_payload(client_id="known")).json()
    by_id = api.post("/v1/sessions", json={"customer_id": customer["id"]}).json()
    by_ref = api.post("/v1/sessions", json={"client_id": "known"}).json()
    assert by_id["customer_id"] == by_ref["customer_id"] == customer["id"]
    listed = api.get(f"/v1/customers/{customer['id']}/sessions").json()["data"]
    assert [s["id"] for s in listed] == [by_ref["id"], by_id["id"]]
    assert all(s["verification_url"] is None for s in listed)


def test_business_customers_get_the_kyb_level(api: Api) -> None:
    session = api.post(
        "/v1/sessions", json={"client_id": "biz", "customer_type": "business"}
    ).json()
    assert session["level_name"] == "KYB_01"


def test_session_validation(api: Api) -> None:
    assert api.post("/v1/sessions", json={}).status_code == 400
    unknown = api.post("/v1/sessions", json={"customer_id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 404
    level = api.post("/v1/sessions", json={"client_id": "x", "level_name": "NOPE"})
    assert level.status_code == 400
    assert level.json()["details"][0]["field"] == "level_name"
    customer = api.post("/v1/customers", json=customer_payload()).json()
    mismatch = api.post("/v1/sessions", json={"customer_id": customer["id"], "client_id": "other"})
    assert mismatch.status_code == 400
