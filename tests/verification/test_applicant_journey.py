"""An applicant's run end to end through the review API, seen through the three
endpoints of seed 002."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conftest import Api, Credentials
from kycd.db import Database
from kycd.events.models import Event

TWO_STEPS = {
    "ttl_hours": 24,
    "steps": [
        {"kind": "identity_doc"},
        {"kind": "questionnaire"},
        {"kind": "poa", "optional": True},
    ],
}
STEP_KEYS = [
    "kind",
    "optional",
    "reviewAnswer",
    "reviewStatus",
    "reviewRejectType",
    "rejectLabels",
    "lastUpdatedAtUtc",
]


def start_run(api: Api, client_id: str = "user-12345", level: str = "TWO") -> dict[str, Any]:
    assert api.put(f"/v1/levels/{level}", json=TWO_STEPS).status_code == 200
    response = api.post("/v1/sessions", json={"client_id": client_id, "level_name": level})
    assert response.status_code == 201, response.text
    return dict(response.json())


def events(database: Database, event_type: str | None = None) -> list[Event]:
    with database.session() as db:
        stmt = select(Event).order_by(Event.seq)
        if event_type:
            stmt = stmt.where(Event.type == event_type)
        return list(db.scalars(stmt).all())


def step(api: Api, client_id: str, kind: str) -> dict[str, Any]:
    rows = api.get(f"/v1/applicants/{client_id}/steps").json()["steps"]
    return next(dict(r) for r in rows if r["kind"] == kind)


def test_steps_are_created_with_the_run_in_the_seed_vocabulary(api: Api) -> None:
    session = start_run(api)
    body = api.get("/v1/applicants/user-12345/steps").json()
    assert list(body) == ["externalUserId", "levelId", "levelName", "steps"]
    assert body["externalUserId"] == "user-12345"
    assert body["levelName"] == "TWO"
    assert body["levelId"] == session["level_id"] is not None
    assert [list(s) for s in body["steps"]] == [STEP_KEYS] * 3
    assert [(s["kind"], s["optional"]) for s in body["steps"]] == [
        ("identity_doc", False),
        ("questionnaire", False),
        ("poa", True),
    ]
    first = body["steps"][0]
    assert (first["reviewStatus"], first["reviewAnswer"], first["reviewRejectType"]) == (
        "pending",
        None,
        None,
    )
    assert first["lastUpdatedAtUtc"].endswith("Z") and len(first["lastUpdatedAtUtc"]) == 20
    status = api.get("/v1/applicants/user-12345/status").json()
    assert status["onboardingStatus"] == "PENDING"
    assert status["reviewStatus"] == "pending"
    assert status["reviewAnswer"] is None


def test_reviewed_rejected_with_retry_resubmitted_and_approved(
    api: Api, database: Database
) -> None:
    session = start_run(api)
    base = f"/v1/sessions/{session['id']}/steps"
    sdk = {"actor_type": "sdk"}
    assert api.post(f"{base}/identity_doc/submit", json=sdk).status_code == 200
    assert events(database, "enrollment.completed") == []
    submitted = api.post(f"{base}/questionnaire/submit", json=sdk)
    assert submitted.status_code == 200
    assert [s["reviewStatus"] for s in submitted.json()["steps"]] == [
        "submitted",
        "submitted",
        "pending",
    ]
    assert [e.actor_type for e in events(database, "enrollment.completed")] == ["sdk"]
    assert api.get("/v1/applicants/user-12345/status").json()["onboardingStatus"] == "PROCESSING"

    assert api.post(f"{base}/identity_doc/start-review").status_code == 200
    assert step(api, "user-12345", "identity_doc")["reviewStatus"] == "in_review"
    rejected = api.post(
        f"{base}/identity_doc/decision",
        json={
            "review_answer": "RED",
            "reject_type": "RETRY",
            "reject_labels": ["UNSATISFACTORY_PHOTOS"],
        },
    )
    assert rejected.status_code == 200, rejected.text
    doc = step(api, "user-12345", "identity_doc")
    assert (doc["reviewStatus"], doc["reviewAnswer"], doc["reviewRejectType"]) == (
        "completed",
        "RED",
        "RETRY",
    )
    assert doc["rejectLabels"] == ["UNSATISFACTORY_PHOTOS"]
    # The questionnaire still waits for a verdict: no applicantReviewed yet.
    assert events(database, "applicantReviewed") == []
    green = api.post(
        f"{base}/questionnaire/decision", json={"review_answer": "GREEN", "actor_type": "system"}
    )
    assert green.status_code == 200
    (retry_review,) = events(database, "applicantReviewed")
    assert retry_review.payload["reviewAnswer"] == "RED"
    assert retry_review.payload["reviewRejectType"] == "RETRY"
    assert retry_review.payload["rejectLabels"] == ["UNSATISFACTORY_PHOTOS"]
    status = api.get("/v1/applicants/user-12345/status").json()
    assert (status["reviewStatus"], status["reviewAnswer"], status["reviewRejectType"]) == (
        "completed",
        "RED",
        "RETRY",
    )
    assert status["onboardingStatus"] == "PENDING"

    resubmitted = api.post(f"{base}/identity_doc/submit", json=sdk)
    assert resubmitted.status_code == 200
    doc = step(api, "user-12345", "identity_doc")
    assert (doc["reviewStatus"], doc["reviewAnswer"], doc["rejectLabels"]) == (
        "submitted",
        None,
        [],
    )
    assert len(events(database, "enrollment.completed")) == 2
    assert api.post(f"{base}/identity_doc/operator-review").status_code == 200
    assert api.get("/v1/applicants/user-12345/status").json()["reviewStatus"] == (
        "awaitingOperatorReview"
    )
    approved = api.post(f"{base}/identity_doc/decision", json={"review_answer": "GREEN"})
    assert approved.status_code == 200

    status = api.get("/v1/applicants/user-12345/status").json()
    assert (status["reviewStatus"], status["reviewAnswer"], status["onboardingStatus"]) == (
        "completed",
        "GREEN",
        "APPROVED",
    )
    sessions = api.get(f"/v1/customers/{session['customer_id']}/sessions").json()["data"]
    assert sessions[0]["status"] == "approved"
    assert sessions[0]["completed_at"] is not None
    reviews = events(database, "applicantReviewed")
    assert [e.payload["reviewAnswer"] for e in reviews] == ["RED", "GREEN"]
    assert reviews[-1].actor_type == "operator"
    steps_now = api.get("/v1/applicants/user-12345/steps").json()
    # The webhook body speaks the /steps vocabulary exactly.
    assert reviews[-1].payload["steps"] == steps_now["steps"]
    assert reviews[-1].payload["type"] == "applicantReviewed"
    assert reviews[-1].payload["externalUserId"] == "user-12345"
    assert reviews[-1].payload["levelName"] == "TWO"
    assert reviews[-1].payload["onboardingStatus"] == "APPROVED"

    history = api.get("/v1/applicants/user-12345/review-history").json()
    timeline = [(i["eventType"], i["actorType"]) for i in history["items"]]
    assert timeline == [
        ("applicant.approved", "operator"),
        ("applicant.verified", "operator"),
        ("applicant.sent_to_review", "operator"),
        ("enrollment.completed", "sdk"),
        ("enrollment.submitted", "sdk"),
        ("applicant.verified", "system"),
        ("applicant.rejected", "operator"),
        ("applicant.sent_to_review", "operator"),
        ("enrollment.completed", "sdk"),
        ("enrollment.submitted", "sdk"),
        ("enrollment.submitted", "sdk"),
        ("enrollment.created", "partner"),
        ("applicant.created", "partner"),
    ]
    assert history["totalItems"] == 13

    # A finished run takes no more decisions.
    late = api.post(f"{base}/questionnaire/decision", json={"review_answer": "GREEN"})
    assert late.status_code == 409


def test_final_rejection_with_identity_theft_labels(api: Api, database: Database) -> None:
    session = start_run(api)
    base = f"/v1/sessions/{session['id']}/steps"
    denied = api.post(
        f"{base}/identity_doc/decision",
        json={"review_answer": "RED", "reject_type": "FINAL", "reject_labels": ["FORGERY"]},
    )
    assert denied.status_code == 200
    status = api.get("/v1/applicants/user-12345/status").json()
    assert status["onboardingStatus"] == "DENIED_IDENTITY_THEFT"
    assert (status["reviewAnswer"], status["reviewRejectType"]) == ("RED", "FINAL")
    (review,) = events(database, "applicantReviewed")
    assert review.payload["onboardingStatus"] == "DENIED_IDENTITY_THEFT"
    assert api.post(f"{base}/questionnaire/submit").status_code == 409


def test_illegal_transitions_and_unknown_steps(api: Api) -> None:
    session = start_run(api)
    base = f"/v1/sessions/{session['id']}/steps"
    illegal = api.post(f"{base}/identity_doc/start-review")
    assert illegal.status_code == 409
    assert illegal.json()["code"] == "illegal_transition"
    assert api.post(f"{base}/identity_doc/submit").status_code == 200
    assert api.post(f"{base}/identity_doc/submit").status_code == 409
    assert api.post(f"{base}/selfie/submit").status_code == 404  # not in the level
    unknown_kind = api.post(f"{base}/dna/submit")
    assert unknown_kind.status_code == 400
    assert unknown_kind.json()["details"][0]["field"] == "kind"
    missing = api.post("/v1/sessions/00000000-0000-0000-0000-000000000000/steps/poa/submit")
    assert missing.status_code == 404


def test_decision_bodies_are_validated(api: Api) -> None:
    session = start_run(api)
    url = f"/v1/sessions/{session['id']}/steps/identity_doc/decision"
    for body in (
        {"review_answer": "RED", "reject_labels": ["X_Y"]},
        {"review_answer": "RED", "reject_type": "RETRY"},
        {"review_answer": "RED", "reject_type": "EXPIRED", "reject_labels": ["X_Y"]},
        {"review_answer": "RED", "reject_type": "RETRY", "reject_labels": ["bad label"]},
        {"review_answer": "GREEN", "reject_type": "FINAL"},
        {"review_answer": "GREEN", "actor_type": "robot"},
        {"review_answer": "MAYBE"},
    ):
        assert api.post(url, json=body).status_code == 400, body


def test_review_api_needs_the_review_scope(api: Api, api_as: Any) -> None:
    session = start_run(api)
    reader = api_as(scopes=["kyc:read", "kyc:create", "kyc:update"])
    url = f"/v1/sessions/{session['id']}/steps/identity_doc/submit"
    assert reader.post(url).status_code == 403
    assert reader.get("/v1/applicants/user-12345/steps").status_code == 200
    assert reader.put("/v1/levels/X", json=TWO_STEPS).status_code == 403
    assert api_as(scopes=["kyc:create"]).get("/v1/applicants/user-12345/status").status_code == 403


def test_both_auth_schemes_and_environment_isolation(
    api: Api, creds: Credentials, api_as: Any, app_client: Any, make_credentials: Any
) -> None:
    start_run(api)
    by_headers = app_client.get("/v1/applicants/user-12345/steps", headers=creds.api_key_headers)
    assert by_headers.status_code == 200
    assert by_headers.json()["levelName"] == "TWO"
    wrong_env = {**creds.api_key_headers, "X-Environment": "production"}
    assert app_client.get("/v1/applicants/user-12345/steps", headers=wrong_env).status_code == 403
    production = make_credentials(environment="production")
    assert (
        app_client.get(
            "/v1/applicants/user-12345/status", headers=production.api_key_headers
        ).status_code
        == 404
    )
    other_tenant = api_as(tenant="globex")
    for path in ("status", "steps", "review-history"):
        assert other_tenant.get(f"/v1/applicants/user-12345/{path}").status_code == 404


def test_applicant_without_a_run(api: Api) -> None:
    assert api.post("/v1/customers", json={"client_id": "idle"}).status_code == 201
    steps = api.get("/v1/applicants/idle/steps").json()
    assert steps == {"externalUserId": "idle", "levelId": None, "levelName": None, "steps": []}
    status = api.get("/v1/applicants/idle/status").json()
    assert status["onboardingStatus"] is None
    assert api.get("/v1/applicants/nobody/steps").status_code == 404


def test_sandbox_verdict(api: Api, api_as: Any, database: Database) -> None:
    start_run(api)
    url = "/v1/applicants/user-12345/steps/identity_doc/sandbox-verdict"
    forced = api.post(url, json={"reviewAnswer": "GREEN"})
    assert forced.status_code == 200, forced.text
    assert forced.json()["steps"][0]["reviewAnswer"] == "GREEN"
    red = api.post(
        "/v1/applicants/user-12345/steps/questionnaire/sandbox-verdict",
        json={
            "reviewAnswer": "RED",
            "reviewRejectType": "FINAL",
            "rejectLabels": ["AGE_REQUIREMENT_MISMATCH"],
        },
    )
    assert red.status_code == 200
    assert api.get("/v1/applicants/user-12345/status").json()["onboardingStatus"] == (
        "DENIED_COMPLIANCE"
    )
    assert [e.actor_type for e in events(database, "applicant.verified")] == ["partner"]
    assert api.post(url, json={"reviewAnswer": "RED"}).status_code == 400

    production = api_as(environment="production")
    production.put("/v1/levels/TWO", json=TWO_STEPS)
    production.post("/v1/sessions", json={"client_id": "prod-user", "level_name": "TWO"})
    refused = production.post(
        "/v1/applicants/prod-user/steps/identity_doc/sandbox-verdict",
        json={"reviewAnswer": "GREEN"},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "sandbox_only"
