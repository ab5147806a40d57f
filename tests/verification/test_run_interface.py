"""The interface other domains call: complete_steps, reject_steps, submit_step,
current_run_view; and the expiry sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from conftest import Api, Credentials
from kycd.db import Database
from kycd.errors import BadRequest, Conflict
from kycd.events.models import Event
from kycd.jobs import PERIODIC_JOBS
from kycd.tenancy.context import RequestContext
from kycd.verification import service


@pytest.fixture
def ctx(creds: Credentials) -> RequestContext:
    return RequestContext(creds.tenant_id, "sandbox", actor_type="system")


def new_run(api: Api, client_id: str = "ada", level: str | None = None) -> dict[str, str]:
    body = {"client_id": client_id, **({"level_name": level} if level else {})}
    response = api.post("/v1/sessions", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def event_types(database: Database) -> list[str]:
    with database.session() as db:
        return list(db.scalars(select(Event.type).order_by(Event.seq)).all())


def test_current_run_view_of_the_default_individual_level(
    api: Api, database: Database, ctx: RequestContext
) -> None:
    run = new_run(api)
    with database.session() as db:
        view = service.current_run_view(db, ctx, run["customer_id"])
    assert view is not None
    assert (view.session_id, view.level_name, view.level_id) == (
        run["id"],
        "KYC_01",
        run["level_id"],
    )
    assert [(s.kind, s.optional) for s in view.level_steps] == [
        ("identity_doc", False),
        ("selfie", False),
        ("liveness", False),
        ("poa", True),
        ("questionnaire", False),
        ("aml", False),
    ]
    assert view.required_kinds == {"identity_doc", "selfie", "liveness", "questionnaire", "aml"}
    assert (view.status, view.onboarding_status, view.review_answer) == ("created", "PENDING", None)
    assert view.expires_at - view.created_at == timedelta(days=7)
    with pytest.raises(AttributeError):
        view.status = "approved"  # type: ignore[misc]


def test_no_run_means_no_view_and_no_change(
    api: Api, database: Database, ctx: RequestContext
) -> None:
    customer = api.post("/v1/customers", json={"client_id": "idle"}).json()
    with database.transaction() as db:
        assert service.current_run_view(db, ctx, customer["id"]) is None
        assert (
            service.complete_steps(
                db, ctx, customer["id"], {"aml"}, actor_type="system", source="screening"
            )
            == []
        )


def test_complete_steps_until_approved(api: Api, database: Database, ctx: RequestContext) -> None:
    run = new_run(api)
    customer_id = run["customer_id"]
    with database.transaction() as db:
        changed = service.complete_steps(
            db, ctx, customer_id, {"aml", "adverse_media"}, actor_type="system", source="screening"
        )
    assert changed == ["aml"]  # adverse_media is not in KYC_01
    with database.transaction() as db:
        again = service.complete_steps(
            db, ctx, customer_id, {"aml"}, actor_type="system", source="screening"
        )
    assert again == []
    with database.transaction() as db:
        for kind in ("identity_doc", "selfie", "liveness", "questionnaire"):
            service.submit_step(db, ctx, customer_id, kind, actor_type="sdk")
    assert event_types(database).count("enrollment.completed") == 1
    with database.transaction() as db:
        changed = service.complete_steps(
            db,
            ctx,
            customer_id,
            {"questionnaire", "liveness", "selfie", "identity_doc"},
            actor_type="system",
            source="checks:KYC",
        )
        view = service.current_run_view(db, ctx, customer_id)
    assert changed == ["identity_doc", "selfie", "liveness", "questionnaire"]  # level order
    assert view is not None
    assert (view.status, view.onboarding_status, view.review_answer) == (
        "approved",
        "APPROVED",
        "GREEN",
    )
    poa = view.step("poa")
    assert poa is not None and poa.review_status == "pending"
    types = event_types(database)
    assert types.count("applicantReviewed") == 1
    assert types.count("applicant.approved") == 1
    with database.session() as db:
        verified = db.scalars(select(Event).where(Event.type == "applicant.verified")).first()
    assert verified is not None
    assert verified.payload["source"] == "screening"
    assert verified.payload["stepKind"] == "aml"
    assert verified.actor_type == "system"
    # The run is finished: later results change nothing.
    with database.transaction() as db:
        assert (
            service.reject_steps(
                db,
                ctx,
                customer_id,
                {"aml"},
                reject_type="FINAL",
                labels=["SANCTIONS"],
                actor_type="system",
                source="screening",
            )
            == []
        )


def test_reject_steps_retry_then_final(api: Api, database: Database, ctx: RequestContext) -> None:
    run = new_run(api)
    customer_id = run["customer_id"]
    with database.transaction() as db:
        changed = service.reject_steps(
            db,
            ctx,
            customer_id,
            {"identity_doc", "selfie"},
            reject_type="RETRY",
            labels=["BAD_FACE_MATCHING"],
            actor_type="system",
            source="checks:KYC",
        )
        view = service.current_run_view(db, ctx, customer_id)
    assert changed == ["identity_doc", "selfie"]
    assert view is not None
    doc = view.step("identity_doc")
    assert doc is not None
    assert (doc.review_status, doc.review_answer, doc.review_reject_type, doc.reject_labels) == (
        "completed",
        "RED",
        "RETRY",
        ("BAD_FACE_MATCHING",),
    )
    assert view.onboarding_status == "PENDING"
    with database.transaction() as db:
        changed = service.reject_steps(
            db,
            ctx,
            customer_id,
            {"selfie"},
            reject_type="FINAL",
            labels=["SELFIE_MISMATCH"],
            actor_type="operator",
            source="review",
        )
        view = service.current_run_view(db, ctx, customer_id)
    assert changed == ["selfie"]
    assert view is not None
    assert (view.status, view.onboarding_status) == ("rejected", "DENIED_IDENTITY_THEFT")
    with database.transaction() as db, pytest.raises(BadRequest):
        service.reject_steps(
            db,
            ctx,
            customer_id,
            {"aml"},
            reject_type="EXPIRED",
            labels=["X_Y"],
            actor_type="system",
            source="x",
        )
    with database.transaction() as db, pytest.raises(BadRequest):
        service.complete_steps(db, ctx, customer_id, {"aml"}, actor_type="robot", source="x")


def test_submit_step_errors(api: Api, database: Database, ctx: RequestContext) -> None:
    customer = api.post("/v1/customers", json={"client_id": "idle"}).json()
    with database.transaction() as db, pytest.raises(Conflict):
        service.submit_step(db, ctx, customer["id"], "selfie", actor_type="sdk")
    run = new_run(api)
    with database.transaction() as db:
        view = service.submit_step(db, ctx, run["customer_id"], "selfie", actor_type="sdk")
    selfie = view.step("selfie")
    assert selfie is not None and selfie.review_status == "submitted"
    with database.transaction() as db, pytest.raises(Conflict):
        service.submit_step(db, ctx, run["customer_id"], "selfie", actor_type="sdk")


def test_overdue_runs_expire_by_the_periodic_sweep(
    api: Api, database: Database, ctx: RequestContext
) -> None:
    run = new_run(api, "late")
    fresh = new_run(api, "fresh", level="KYB_01")
    customer_id = run["customer_id"]
    with database.transaction() as db:
        service.complete_steps(db, ctx, customer_id, {"aml"}, actor_type="system", source="x")
        service.submit_step(db, ctx, customer_id, "selfie", actor_type="sdk")
    with database.session() as db:
        view = service.current_run_view(db, ctx, customer_id)
    assert view is not None
    moment = view.expires_at + timedelta(seconds=1)
    (job,) = [j for j in PERIODIC_JOBS if j.name == "expire-verification-runs"]
    assert job.run(database, None, view.expires_at - timedelta(seconds=1)) == 0  # type: ignore[arg-type]
    assert job.run(database, None, moment) == 1  # type: ignore[arg-type]
    assert job.run(database, None, moment) == 0  # type: ignore[arg-type]
    with database.session() as db:
        view = service.current_run_view(db, ctx, customer_id)
        untouched = service.current_run_view(db, ctx, fresh["customer_id"])
        expired_events = db.scalars(
            select(Event).where(Event.type.in_(["enrollment.expired", "applicantReviewed"]))
        ).all()
    assert view is not None and untouched is not None
    assert (view.status, view.onboarding_status, view.review_status) == (
        "expired",
        "EXPIRED",
        "expired",
    )
    states = {s.kind: (s.review_status, s.review_answer, s.review_reject_type) for s in view.steps}
    assert states["aml"] == ("completed", "GREEN", None)  # a verdict already given stands
    assert states["selfie"] == ("expired", "RED", "EXPIRED")
    assert states["poa"] == ("expired", "RED", "EXPIRED")
    assert untouched.status == "created"
    assert sorted((e.type, e.actor_type) for e in expired_events) == [
        ("applicantReviewed", "system"),
        ("enrollment.expired", "system"),
    ]
    assert all(e.created_at == moment for e in expired_events)
    assert "enrollment.completed" not in event_types(database)
    review = next(e for e in expired_events if e.type == "applicantReviewed")
    assert (review.payload["reviewAnswer"], review.payload["reviewRejectType"]) == (
        "RED",
        "EXPIRED",
    )
    status = api.get("/v1/applicants/late/status").json()
    assert status["onboardingStatus"] == "EXPIRED"
    assert api.post(f"/v1/sessions/{run['id']}/steps/selfie/submit").status_code == 409
