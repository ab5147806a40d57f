from __future__ import annotations

from collections.abc import Callable

from conftest import Api, Credentials
from factories import customer_payload
from kycd.db import Database


def test_same_key_and_body_replays_the_stored_answer(api: Api) -> None:
    payload = customer_payload()
    headers = {"Idempotency-Key": "key-1"}
    first = api.post("/v1/customers", json=payload, headers=headers)
    second = api.post("/v1/customers", json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert api.get("/v1/customers").json()["pagination"]["total"] == 1


def test_same_key_with_another_body_answers_422(api: Api) -> None:
    headers = {"Idempotency-Key": "key-2"}
    api.post("/v1/customers", json=customer_payload(client_id="a"), headers=headers)
    response = api.post("/v1/customers", json=customer_payload(client_id="b"), headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


def test_errors_below_500_are_replayed_too(api: Api) -> None:
    headers = {"Idempotency-Key": "key-3"}
    bad = customer_payload(nationality="XX")
    assert api.post("/v1/customers", json=bad, headers=headers).status_code == 400
    replay = api.post("/v1/customers", json=bad, headers=headers)
    assert replay.status_code == 400
    assert replay.headers["idempotent-replayed"] == "true"


def test_keys_belong_to_one_tenant(api: Api, api_as: Callable[..., Api]) -> None:
    headers = {"Idempotency-Key": "shared"}
    payload = customer_payload()
    mine = api.post("/v1/customers", json=payload, headers=headers).json()
    theirs = api_as(tenant="globex").post("/v1/customers", json=payload, headers=headers)
    assert theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine["id"]


def test_a_request_in_progress_answers_409(
    api: Api, database: Database, creds: Credentials
) -> None:
    from datetime import timedelta

    from kycd.idempotency.middleware import _claim, _fingerprint
    from kycd.tenancy.context import RequestContext

    payload = customer_payload()
    ctx = RequestContext(creds.tenant_id, "sandbox")
    import json

    body = json.dumps(payload).encode()
    scope = {"method": "POST", "path": "/v1/customers", "query_string": b""}
    # Another process has claimed the key and is still running the request.
    assert _claim(database, ctx, "busy", _fingerprint(scope, body), timedelta(hours=24)).run
    response = api.post(
        "/v1/customers",
        content=body,
        headers={"Idempotency-Key": "busy", "content-type": "application/json"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_request_in_progress"


def test_overlong_key_answers_400(api: Api) -> None:
    response = api.post(
        "/v1/customers", json=customer_payload(), headers={"Idempotency-Key": "k" * 300}
    )
    assert response.status_code == 400


def test_expired_keys_are_purged(api: Api, database: Database) -> None:
    from datetime import timedelta

    from kycd.db import utcnow
    from kycd.idempotency.middleware import purge_expired

    api.post("/v1/customers", json=customer_payload(), headers={"Idempotency-Key": "old"})
    assert purge_expired(database, timedelta(hours=24)) == 0
    assert purge_expired(database, timedelta(hours=24), utcnow() + timedelta(hours=25)) == 1


def test_stored_answers_are_sealed(api: Api, database: Database) -> None:
    from sqlalchemy import select

    from kycd.idempotency.models import IdempotencyRecord

    payload = customer_payload(last_name="Sealedname")
    api.post("/v1/customers", json=payload, headers={"Idempotency-Key": "sealed"})
    with database.session() as db:
        stored = db.scalars(select(IdempotencyRecord)).one()
    assert stored.body is not None
    assert "Sealedname" not in stored.body
    replay = api.post("/v1/customers", json=payload, headers={"Idempotency-Key": "sealed"})
    assert replay.json()["last_name"] == "Sealedname"
