"""``GET /v1/compliance/status/{customerId}`` (seed 000), on SQLite and PostgreSQL.

Runs move through the verification domain's own service (submit_step,
complete_steps, reject_steps), as the SDK, a provider or a reviewer would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from compliance_fixtures import approved_customer, changes, ctx_of, decide_run, status
from fastapi.testclient import TestClient
from sqlalchemy import update

from conftest import Api, drop_loop_connections
from factories import customer_payload
from kycd.compliance import service
from kycd.compliance.models import ComplianceProjection
from kycd.db import Database, utcnow
from kycd.verification import service as verification

CHECK_ORDER = [
    "KYC_DATA_PRESENT",
    "KYC_STARTED",
    "SDK_VERIFICATION_COMPLETED",
    "KYC_STATUS",
    "REGISTRATION_ADDRESS",
    "TAX_COUNTRY",
    "OCCUPATION",
    "DOC_SOURCE_OF_FUNDS",
    "DOC_FATCA",
    "DOC_BIOMETRIC_REPORT",
    "DOC_PROOF_OF_ADDRESS",
]


class Clock:
    """Stands in for the wall clock of the compliance service."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(service, "utcnow", fake)
    return fake


def test_the_seed_shape(api: Api) -> None:
    customer = api.post("/v1/customers", json={"client_id": "bare"}).json()
    response = api.get(f"/v1/compliance/status/{customer['id']}")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["message", "data", "traceId"]
    assert body["message"] == "Compliance status retrieved successfully"
    data = body["data"]
    assert list(data) == ["isCompliant", "onboardingStatus", "nextAction", "checks", "summary"]
    assert [c["type"] for c in data["checks"]] == CHECK_ORDER
    for check in data["checks"]:
        expected = ["type", "passed", "required"] + ([] if check["passed"] else ["suggestedAction"])
        assert list(check) == expected
    assert data["summary"] == {
        "passed": 0,
        "failed": 11,
        "requiredFailed": [
            "KYC_DATA_PRESENT",
            "KYC_STARTED",
            "SDK_VERIFICATION_COMPLETED",
            "KYC_STATUS",
            "REGISTRATION_ADDRESS",
            "TAX_COUNTRY",
            "OCCUPATION",
        ],
    }
    assert (data["isCompliant"], data["onboardingStatus"], data["nextAction"]) == (
        False,
        None,
        "START_KYC",
    )


def test_walk_from_a_bare_profile_to_compliant(api: Api, database: Database) -> None:
    customer_id = api.post("/v1/customers", json={"client_id": "walker"}).json()["id"]
    seen = [status(api, customer_id)["nextAction"]]

    api.post("/v1/sessions", json={"customer_id": customer_id})
    after_start = status(api, customer_id)
    assert after_start["onboardingStatus"] == "PENDING"
    seen.append(after_start["nextAction"])

    decide_run(database, customer_id, "submitted")
    submitted = status(api, customer_id)
    assert submitted["onboardingStatus"] == "PROCESSING"
    seen.append(submitted["nextAction"])

    full = customer_payload()
    del full["client_id"], full["type"]
    assert api.patch(f"/v1/customers/{customer_id}", json=full).status_code == 200
    seen.append(status(api, customer_id)["nextAction"])

    decide_run(database, customer_id, "approved")
    approved = status(api, customer_id)
    assert (approved["isCompliant"], approved["onboardingStatus"]) == (True, "APPROVED")
    assert approved["summary"]["requiredFailed"] == []
    seen.append(approved["nextAction"])

    api.patch(f"/v1/customers/{customer_id}", json={"nationality": "US"})
    us_person = status(api, customer_id)
    assert us_person["summary"]["requiredFailed"] == ["DOC_FATCA"]
    seen.append(us_person["nextAction"])

    assert seen == [
        "START_KYC",
        "COMPLETE_SDK_FLOW",
        "UPDATE_PROFILE",
        "WAIT",
        "NONE",
        "UPLOAD_DOCUMENT",
    ]
    # Each change recorded once, whether a write (subscriber) or a read saw it first.
    assert changes(database, customer_id) == list(pairwise(seen))


def test_time_alone_expires_the_approval(api: Api, database: Database, clock: Clock) -> None:
    customer_id = approved_customer(api, database)
    assert status(api, customer_id)["nextAction"] == "NONE"
    clock.offset = timedelta(days=2 * 366)
    for _ in range(2):
        expired = status(api, customer_id)
        assert (expired["onboardingStatus"], expired["nextAction"]) == ("EXPIRED", "RERUN_KYC")
        assert expired["isCompliant"] is False
    assert changes(database, customer_id) == [
        ("START_KYC", "COMPLETE_SDK_FLOW"),
        ("COMPLETE_SDK_FLOW", "NONE"),
        ("NONE", "RERUN_KYC"),
    ]


def test_an_unfinished_run_expires_at_its_ttl(api: Api, clock: Clock) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    api.post("/v1/sessions", json={"customer_id": customer["id"]})
    assert status(api, customer["id"])["nextAction"] == "COMPLETE_SDK_FLOW"
    clock.offset = timedelta(days=8)  # KYC_01 lives 7 days
    late = status(api, customer["id"])
    assert (late["onboardingStatus"], late["nextAction"]) == ("EXPIRED", "RERUN_KYC")


def test_a_refresh_run_keeps_a_valid_approval(api: Api, database: Database) -> None:
    customer_id = approved_customer(api, database)
    api.post("/v1/sessions", json={"customer_id": customer_id})
    refreshed = status(api, customer_id)
    assert (refreshed["onboardingStatus"], refreshed["nextAction"]) == ("APPROVED", "NONE")


def test_a_rejected_run_means_contact_support(api: Api, database: Database) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    api.post("/v1/sessions", json={"customer_id": customer["id"]})
    decide_run(database, customer["id"], "rejected")
    denied = status(api, customer["id"])
    assert (denied["onboardingStatus"], denied["nextAction"]) == (
        "DENIED_COMPLIANCE",
        "CONTACT_SUPPORT",
    )
    kyc = next(c for c in denied["checks"] if c["type"] == "KYC_STATUS")
    assert kyc == {
        "type": "KYC_STATUS",
        "passed": False,
        "required": True,
        "suggestedAction": "CONTACT_SUPPORT",
    }


def test_tenant_policy_decides_what_is_required(
    api: Api, database: Database, api_as: Callable[..., Api]
) -> None:
    customer_id = approved_customer(api, database, occupation=None)
    assert status(api, customer_id)["nextAction"] == "UPDATE_PROFILE"

    policy = {"required": {"OCCUPATION": "never", "DOC_PROOF_OF_ADDRESS": "always"}}
    response = api.put("/v1/compliance/policy", json=policy)
    assert response.status_code == 200
    assert response.json()["required"]["OCCUPATION"] == "never"
    assert response.json()["required"]["KYC_STATUS"] == "default"
    after = status(api, customer_id)
    assert after["summary"]["requiredFailed"] == ["DOC_PROOF_OF_ADDRESS"]
    assert after["nextAction"] == "UPLOAD_DOCUMENT"
    assert api.get("/v1/compliance/policy").json()["kyc_validity_months"] == 24

    reader = api_as(scopes=["kyc:read"])
    assert reader.get("/v1/compliance/policy").status_code == 403
    assert reader.put("/v1/compliance/policy", json={}).status_code == 403
    # Another tenant keeps the defaults.
    other = api_as(tenant="globex")
    assert other.get("/v1/compliance/policy").json()["required"]["OCCUPATION"] == "default"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"required": {"NOT_A_CHECK": "always"}}, "required.NOT_A_CHECK.[key]"),
        ({"required": {"OCCUPATION": "sometimes"}}, "required.OCCUPATION"),
        ({"kyc_validity_months": 0}, "kyc_validity_months"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_policy_validation(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.put("/v1/compliance/policy", json=body)
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == [field]


def test_tenants_and_environments_are_isolated(
    api: Api, database: Database, api_as: Callable[..., Api]
) -> None:
    customer_id = approved_customer(api, database)
    for stranger in (api_as(tenant="globex"), api_as(environment="production")):
        response = stranger.get(f"/v1/compliance/status/{customer_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_unknown_customer_and_missing_scope(
    api: Api, api_as: Callable[..., Api], app_client: TestClient
) -> None:
    unknown = "/v1/compliance/status/00000000-0000-0000-0000-000000000000"
    assert app_client.get(unknown).status_code == 401  # no credential
    response = api.get(unknown)
    assert response.status_code == 404
    assert response.json()["traceId"] == response.headers["X-Trace-Id"]
    customer = api.post("/v1/customers", json=customer_payload()).json()
    writer = api_as(scopes=["kyc:create"])
    assert writer.get(f"/v1/compliance/status/{customer['id']}").status_code == 403
    assert api_as(scopes=["kyc:read"]).get(f"/v1/compliance/status/{customer['id']}").is_success


def test_a_change_seen_twice_is_recorded_once(api: Api, database: Database) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    api.post("/v1/sessions", json={"customer_id": customer["id"]})
    decide_run(database, customer["id"], "approved")  # the writer's subscriber records it
    ctx = ctx_of(database, customer["id"])
    later = utcnow() + timedelta(days=2 * 366)  # a change made by time alone
    with database.session() as db:
        first = service.evaluate_now(db, ctx, customer["id"], later)
        second = service.evaluate_now(db, ctx, customer["id"], later)
    assert first.stale and second.stale
    with database.transaction() as db:
        assert service.store(db, ctx, first)
    with database.transaction() as db:
        assert not service.store(db, ctx, second)
    assert changes(database, customer["id"]) == [
        ("START_KYC", "COMPLETE_SDK_FLOW"),
        ("COMPLETE_SDK_FLOW", "NONE"),
        ("NONE", "RERUN_KYC"),
    ]


def test_the_sweep_records_changes_nobody_read(api: Api, database: Database) -> None:
    customer_id = approved_customer(api, database)  # the approval's writer recorded it
    assert service.sweep(database, utcnow()) == 0  # evaluated moments ago
    later = utcnow() + timedelta(days=2 * 366)  # nobody reads while the approval lapses
    assert service.sweep(database, later) == 1
    assert changes(database, customer_id)[-1] == ("NONE", "RERUN_KYC")
    assert service.sweep(database, later) == 0
    with database.transaction() as db:  # as for customers created before this feature
        db.execute(ComplianceProjection.__table__.delete())
    assert service.sweep(database, utcnow()) == 1
    assert service.sweep(database, utcnow()) == 0
    assert len(changes(database, customer_id)) == 3


def test_a_review_event_refreshes_the_status_in_the_writers_transaction(
    api: Api, database: Database
) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    api.post("/v1/sessions", json={"customer_id": customer["id"]})
    ctx = ctx_of(database, customer["id"])
    kinds = {"identity_doc", "selfie", "liveness", "poa", "questionnaire", "aml"}
    with database.transaction() as db:  # a decision that is rolled back leaves no trace
        verification.complete_steps(db, ctx, customer["id"], kinds, actor_type="system", source="t")
        db.rollback()
    assert changes(database, customer["id"]) == [("START_KYC", "COMPLETE_SDK_FLOW")]
    with database.transaction() as db:
        verification.complete_steps(db, ctx, customer["id"], kinds, actor_type="system", source="t")
    assert changes(database, customer["id"])[-1] == ("COMPLETE_SDK_FLOW", "NONE")
    with database.session() as db:
        row = db.get(ComplianceProjection, customer["id"])
        assert row is not None
        assert (row.is_compliant, row.onboarding_status, row.next_action) == (
            True,
            "APPROVED",
            "NONE",
        )


def _stored(database: Database, customer_id: str) -> ComplianceProjection:
    with database.session() as db:
        row = db.get(ComplianceProjection, customer_id)
        assert row is not None
        return row


def test_the_read_serves_the_stored_answer_until_time_changes_it(
    api: Api, database: Database, clock: Clock
) -> None:
    customer_id = approved_customer(api, database)
    assert status(api, customer_id)["nextAction"] == "NONE"
    stored = _stored(database, customer_id)
    assert stored.valid_until is not None
    # Mark the stored answer: a read that serves it shows the mark.
    marked = json.loads(stored.data_json or "")
    marked["summary"]["passed"] = 99
    with database.transaction() as db:
        db.execute(
            update(ComplianceProjection)
            .where(ComplianceProjection.customer_id == customer_id)
            .values(data_json=json.dumps(marked))
        )
    url = f"/v1/compliance/status/{customer_id}"
    assert api.get(url).json()["data"]["summary"]["passed"] == 99
    # At valid_until (the approval's 24 months) the answer is evaluated afresh.
    clock.offset = stored.valid_until - utcnow()
    lapsed = status(api, customer_id)
    assert lapsed["nextAction"] == "RERUN_KYC"
    assert lapsed["summary"]["passed"] != 99
    assert changes(database, customer_id)[-1] == ("NONE", "RERUN_KYC")
    assert _stored(database, customer_id).data_json == service.dumps(lapsed)


def test_a_policy_change_makes_stored_answers_misses_and_the_sweep_records_it(
    api: Api, database: Database, api_as: Callable[..., Api]
) -> None:
    customer_id = approved_customer(api, database)
    other_tenant = api_as(tenant="globex")
    other_id = other_tenant.post("/v1/customers", json=customer_payload()).json()["id"]
    assert service.sweep(database, utcnow()) == 0
    policy = {"required": {"DOC_PROOF_OF_ADDRESS": "always"}}
    assert api.put("/v1/compliance/policy", json=policy).status_code == 200
    assert service.sweep(database, utcnow()) == 1  # this tenant's one customer, nobody reading
    assert changes(database, customer_id)[-1] == ("NONE", "UPLOAD_DOCUMENT")
    assert service.sweep(database, utcnow()) == 0
    assert status(api, customer_id)["nextAction"] == "UPLOAD_DOCUMENT"
    assert status(other_tenant, other_id)["nextAction"] == "START_KYC"


def test_a_lost_guard_leaves_no_answer_behind(api: Api, database: Database) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    ctx = ctx_of(database, customer["id"])
    with database.session() as db:
        before = service.evaluate_now(db, ctx, customer["id"])
    api.post("/v1/sessions", json={"customer_id": customer["id"]})  # moves the row
    with database.transaction() as db:
        assert not service.store(db, ctx, before, touch=True)
    assert _stored(database, customer["id"]).data_json is None
    assert status(api, customer["id"])["nextAction"] == "COMPLETE_SDK_FLOW"
    assert _stored(database, customer["id"]).data_json is not None


def test_a_failed_stored_answer_read_falls_back_to_evaluating(
    api: Api, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    customer_id = approved_customer(api, database)
    assert status(api, customer_id)["nextAction"] == "NONE"  # read on the loop
    assert drop_loop_connections(database, service._ANSWER_STATEMENT) >= 1
    with caplog.at_level(logging.WARNING, logger="kycd.db"):
        assert status(api, customer_id)["nextAction"] == "NONE"
    assert "read on the event loop failed" in caplog.text
    missing = api.get("/v1/compliance/status/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
