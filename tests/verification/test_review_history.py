from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import Api, Credentials
from kycd.db import Database
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext

T0 = datetime(2026, 6, 7, 10, 15, 11, tzinfo=UTC)


@pytest.fixture
def applicant(api: Api, creds: Credentials, database: Database) -> str:
    """user-12345 with a hand-made history: the seed's three events, plus events a
    partner must never see."""
    customer = api.post("/v1/customers", json={"client_id": "user-12345"}).json()
    ctx = RequestContext(creds.tenant_id, "sandbox")
    timeline = [
        ("enrollment.created", "partner", T0),
        ("admin.login", "operator", T0 + timedelta(minutes=1)),
        ("admin.level_updated", "operator", T0 + timedelta(minutes=2)),
        ("applicantReviewed", "system", T0 + timedelta(minutes=3)),
        ("enrollment.completed", "sdk", T0 + timedelta(minutes=14, seconds=49)),
        ("applicant.verified", "system", T0 + timedelta(minutes=16, seconds=11)),
    ]
    with database.transaction() as db:
        for event_type, actor, at in timeline:
            record_event(db, ctx, event_type, customer_id=customer["id"], actor_type=actor, at=at)
    return "/v1/applicants/user-12345/review-history"


def seed_items(body: dict[str, object]) -> list[tuple[str, str, str]]:
    return [(i["atUtc"], i["eventType"], i["actorType"]) for i in body["items"]]  # type: ignore[attr-defined, index]


def test_history_is_newest_first_and_partner_safe(api: Api, applicant: str) -> None:
    body = api.get(applicant, params={"limit": 10}).json()
    # The seed's example, field for field; applicant.created comes from POST /v1/customers.
    assert seed_items(body)[1:] == [
        ("2026-06-07T10:31:22Z", "applicant.verified", "system"),
        ("2026-06-07T10:30:00Z", "enrollment.completed", "sdk"),
        ("2026-06-07T10:15:11Z", "enrollment.created", "partner"),
    ]
    types = {i["eventType"] for i in body["items"]}
    assert types == {
        "applicant.verified",
        "enrollment.completed",
        "enrollment.created",
        "applicant.created",
    }
    assert body["totalItems"] == 4
    assert set(body) == {"items", "totalItems"}
    assert list(body["items"][0]) == ["atUtc", "eventType", "actorType"]


def test_limit_bounds(api: Api, applicant: str) -> None:
    assert len(api.get(applicant).json()["items"]) == 4  # default 50
    limited = api.get(applicant, params={"limit": 1}).json()
    assert [i["eventType"] for i in limited["items"]] == ["applicant.created"]
    assert limited["totalItems"] == 4
    assert api.get(applicant, params={"limit": 200}).status_code == 200
    for bad in (0, 201, -1, "ten"):
        response = api.get(applicant, params={"limit": bad})
        assert response.status_code == 400, bad
        assert response.json()["details"][0]["field"] == "limit"


def test_event_type_filter_and_allowlist(api: Api, applicant: str) -> None:
    only = api.get(applicant, params={"eventType": "enrollment.completed"}).json()
    assert seed_items(only) == [("2026-06-07T10:30:00Z", "enrollment.completed", "sdk")]
    assert only["totalItems"] == 1
    assert api.get(applicant, params={"eventType": "aml.run"}).json() == {
        "items": [],
        "totalItems": 0,
    }
    for outside in ("admin.login", "applicantReviewed", "nonsense"):
        response = api.get(applicant, params={"eventType": outside})
        assert response.status_code == 400, outside
        assert response.json()["details"][0]["field"] == "eventType"


def test_since(api: Api, applicant: str) -> None:
    since = api.get(applicant, params={"since": "2026-06-07T10:30:00Z"}).json()
    assert [i["eventType"] for i in since["items"]][-2:] == [
        "applicant.verified",
        "enrollment.completed",
    ]
    assert "enrollment.created" not in {i["eventType"] for i in since["items"]}
    offset = api.get(applicant, params={"since": "2026-06-07T12:30:00+02:00"}).json()
    assert {i["eventType"] for i in offset["items"]} >= {"enrollment.completed"}
    naive = api.get(applicant, params={"since": "2026-06-07T10:31:00"}).json()
    assert "enrollment.completed" not in {i["eventType"] for i in naive["items"]}
    bad = api.get(applicant, params={"since": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "since"
