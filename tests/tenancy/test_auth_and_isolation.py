from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from conftest import Api, Credentials
from factories import customer_payload
from kycd.db import Database


def test_missing_or_wrong_credentials_answer_401(
    app_client: TestClient, creds: Credentials
) -> None:
    assert app_client.get("/v1/customers").status_code == 401
    wrong = {"Authorization": f"Bearer {creds.issued.api_key}.sk_wrong"}
    response = app_client.get("/v1/customers", headers=wrong)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert (
        app_client.get("/v1/customers", headers={"Authorization": "Basic abc"}).status_code == 401
    )
    half = {"X-Api-Key": creds.issued.api_key}
    assert app_client.get("/v1/customers", headers=half).status_code == 401


def test_both_schemes_reach_the_same_data(app_client: TestClient, creds: Credentials) -> None:
    created = app_client.post("/v1/customers", json=customer_payload(), headers=creds.bearer).json()
    response = app_client.get(f"/v1/customers/{created['id']}", headers=creds.api_key_headers)
    assert response.status_code == 200
    assert response.json()["id"] == created["id"]


def test_environment_header_must_match_the_credential(
    app_client: TestClient, creds: Credentials
) -> None:
    headers = {**creds.api_key_headers, "X-Environment": "production"}
    response = app_client.get("/v1/customers", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "environment_mismatch"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v1/customers", "kyc:create"),
        ("GET", "/v1/customers", "kyc:read"),
        ("GET", "/v1/customers/{id}", "kyc:read"),
        ("PATCH", "/v1/customers/{id}", "kyc:update"),
        ("DELETE", "/v1/customers/{id}", "kyc:update"),
        ("GET", "/v1/customers/{id}/sessions", "kyc:read"),
        ("POST", "/v1/sessions", "kyc:create"),
    ],
)
def test_each_route_requires_its_scope(
    api: Api,
    api_as: Callable[..., Api],
    method: str,
    path: str,
    scope: str,
) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    url = path.format(id=customer["id"])
    bodies = {"/v1/customers": customer_payload(), "/v1/sessions": {"customer_id": customer["id"]}}
    body = (
        bodies.get(path)
        if method == "POST"
        else ({"occupation": "x"} if method == "PATCH" else None)
    )
    others = [
        s for s in ["kyc:read", "kyc:create", "kyc:update", "kyc:review", "kyc:admin"] if s != scope
    ]
    lacking = api_as(scopes=others).request(method, url, json=body)
    assert lacking.status_code == 403
    assert lacking.json()["code"] == "insufficient_scope"
    allowed = api_as(scopes=[scope]).request(method, url, json=body)
    assert allowed.status_code in (200, 201)


def test_other_tenant_sees_nothing(api: Api, api_as: Callable[..., Api]) -> None:
    mine = api.post("/v1/customers", json=customer_payload(client_id="shared-ref")).json()
    other = api_as(tenant="globex")
    url = f"/v1/customers/{mine['id']}"
    assert other.get(url).status_code == 404
    assert other.patch(url, json={"occupation": "Thief"}).status_code == 404
    assert other.delete(url).status_code == 404
    assert other.get(f"{url}/sessions").status_code == 404
    assert other.get("/v1/customers").json()["data"] == []
    assert other.post("/v1/sessions", json={"customer_id": mine["id"]}).status_code == 404
    # The same client_id is free in another tenant, and stays separate.
    theirs = other.post("/v1/customers", json=customer_payload(client_id="shared-ref"))
    assert theirs.status_code == 201
    assert api.get(url).json()["occupation"] == mine["occupation"]
    assert api.get(url).json()["status"] == "pending"


def test_environments_are_separate(api: Api, api_as: Callable[..., Api]) -> None:
    mine = api.post("/v1/customers", json=customer_payload()).json()
    production = api_as(environment="production")
    assert production.get(f"/v1/customers/{mine['id']}").status_code == 404
    assert production.get("/v1/customers").json()["pagination"]["total"] == 0


def test_revoked_credential_is_refused(
    app_client: TestClient, creds: Credentials, database: Database
) -> None:
    from kycd.tenancy.context import RequestContext
    from kycd.tenancy.service import revoke_credential

    assert app_client.get("/v1/customers", headers=creds.bearer).status_code == 200
    with database.transaction() as db:
        revoke_credential(
            db,
            RequestContext(creds.tenant_id, "sandbox", actor_type="operator"),
            creds.issued.credential_id,
        )
    assert app_client.get("/v1/customers", headers=creds.bearer).status_code == 401


def test_secret_is_stored_only_as_a_hash(creds: Credentials, database: Database) -> None:
    from sqlalchemy import select

    from kycd.tenancy.models import Credential

    with database.session() as db:
        row = db.scalars(select(Credential)).one()
    assert creds.issued.api_secret not in row.secret_hash
    assert len(row.secret_hash) == 64


def test_unexpected_errors_answer_500_without_a_trace(
    app_client: TestClient, creds: Credentials
) -> None:
    @app_client.app.get("/boom")  # type: ignore[attr-defined]
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = app_client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert "secret internals" not in response.text
    assert body["traceId"] == response.headers["x-trace-id"]
