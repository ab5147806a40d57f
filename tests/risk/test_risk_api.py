"""``/v1/customers/{id}/risk-profile``: stored, recalculated, explained, with history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from conftest import Api, Credentials
from factories import customer_payload
from kycd.db import Database, utcnow
from kycd.events.models import Event
from kycd.risk import service
from kycd.risk.models import RiskProfile, RiskProfileHistory
from kycd.tenancy.context import RequestContext
from kycd.verification.models import VerificationSession


def new_customer(api: Api, **overrides: Any) -> str:
    response = api.post("/v1/customers", json=customer_payload(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def profile(api: Api, cid: str) -> dict[str, Any]:
    response = api.get(f"/v1/customers/{cid}/risk-profile")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def factor(body: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in body["factors"] if f["name"] == name)
    return found


def history(api: Api, cid: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/customers/{cid}/risk-profile/history")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def level_events(database: Database, cid: str) -> list[tuple[str | None, str]]:
    with database.session() as db:
        events = db.scalars(
            select(Event)
            .where(Event.customer_id == cid, Event.type == "risk.level_changed")
            .order_by(Event.seq)
        )
        return [(e.payload["from"], e.payload["to"]) for e in events]


def test_a_new_customer_has_an_explained_profile(api: Api, database: Database) -> None:
    cid = new_customer(api)
    body = profile(api, cid)
    assert (body["score"], body["level"], body["version"]) == (0.0, "LOW", 1)
    assert body["reason"] == "applicant.created"
    assert body["thresholds"] == {"medium": 25.0, "high": 50.0}
    assert [(f["name"], f["weight"]) for f in body["factors"]] == [
        ("country", 25.0),
        ("screening", 35.0),
        ("verification", 15.0),
        ("occupation_industry", 10.0),
        ("ownership_opacity", 15.0),
    ]
    assert factor(body, "country")["details"]["nationality"] == {"country": "DE", "category": None}
    assert level_events(database, cid) == [(None, "LOW")]


def test_profile_update_recalculates_with_history_and_level_event(
    api: Api, database: Database
) -> None:
    cid = new_customer(api)
    assert api.patch(f"/v1/customers/{cid}", json={"nationality": "IR"}).status_code == 200
    body = profile(api, cid)
    assert (body["level"], body["version"], body["score"]) == ("HIGH", 2, 25.0)
    assert factor(body, "country")["minimum_level"] == "HIGH"
    assert level_events(database, cid) == [(None, "LOW"), ("LOW", "HIGH")]

    entries = history(api, cid)
    assert [
        (h["version"], h["level"], h["previous_level"], h["level_changed"]) for h in entries
    ] == [
        (2, "HIGH", "LOW", True),
        (1, "LOW", None, True),
    ]
    latest = entries[0]
    assert latest["reason"] == "applicant.updated"
    assert [(c["factor"], c["from"], c["to"], c["contribution_to"]) for c in latest["changes"]] == [
        ("country", 0.0, 1.0, 25.0)
    ]
    assert latest["changes"][0]["details_to"]["nationality"] == {
        "country": "IR",
        "category": "high_risk",
    }

    # Back to a monitored country: 12.5, LOW again.
    api.patch(f"/v1/customers/{cid}", json={"nationality": "KE"})
    assert (profile(api, cid)["level"], profile(api, cid)["score"]) == ("LOW", 12.5)
    assert level_events(database, cid)[-1] == ("HIGH", "LOW")


def test_post_recalculates_and_records_even_an_unchanged_result(
    api: Api, database: Database
) -> None:
    cid = new_customer(api)
    response = api.post(f"/v1/customers/{cid}/risk-profile", json={"reason": "annual review"})
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["reason"]) == (2, "annual review")
    assert api.post(f"/v1/customers/{cid}/risk-profile").json()["reason"] == "manual"
    # GET ?recalculate=true is refused, not ignored.
    refused = api.get(f"/v1/customers/{cid}/risk-profile?recalculate=true")
    assert refused.status_code == 400
    assert refused.json()["details"][0]["field"] == "recalculate"
    entries = history(api, cid)
    assert [(h["version"], h["changes"], h["level_changed"]) for h in entries[:2]] == [
        (3, [], False),
        (2, [], False),
    ]
    assert level_events(database, cid) == [(None, "LOW")]


def test_failed_verification_runs_move_the_score(
    api: Api, database: Database, creds: Credentials
) -> None:
    cid = new_customer(api)
    now = utcnow()
    with database.transaction() as db:
        for n, status in enumerate(("rejected", "expired", "approved")):
            db.add(
                VerificationSession(
                    tenant_id=creds.tenant_id,
                    environment="sandbox",
                    customer_id=cid,
                    level_name="KYC_01",
                    status=status,
                    token_hash=f"{cid}-{n}".ljust(64, "0")[:64],
                    expires_at=now + timedelta(days=1),
                )
            )
    body = api.post(f"/v1/customers/{cid}/risk-profile").json()
    verification = factor(body, "verification")
    # Two failed runs (0.7) and two retries (0.2): 0.9 x 15 = 13.5.
    assert verification["details"] == {
        "runs": 3,
        "failed_runs": 2,
        "retried_runs": 2,
        "rejected_documents": 0,
    }
    assert (verification["value"], body["score"]) == (0.9, 13.5)


def test_occupation_moves_the_score(api: Api) -> None:
    cid = new_customer(api, occupation="Casino floor manager")
    assert profile(api, cid)["score"] == 10.0


def test_a_new_session_is_a_retry_and_recalculates(api: Api) -> None:
    cid = new_customer(api)
    for _ in range(2):
        assert api.post("/v1/sessions", json={"customer_id": cid}).status_code == 201
    body = profile(api, cid)
    assert factor(body, "verification")["details"]["retried_runs"] == 1
    assert body["reason"] == "enrollment.created"


def test_business_ownership_opacity_follows_the_organisation(api: Api) -> None:
    payload = customer_payload(
        type="business",
        company_name="Root Ltd",
        first_name=None,
        last_name=None,
        date_of_birth=None,
        nationality=None,
        occupation=None,
        incorporation_country="DE",
    )
    cid = api.post("/v1/customers", json=payload).json()["id"]
    # Nothing known about the owners: fully opaque, 15 points.
    body = profile(api, cid)
    assert (factor(body, "ownership_opacity")["value"], body["score"]) == (1.0, 15.0)
    ann = api.post(
        f"/v1/customers/{cid}/organization/parties",
        json={
            "type": "person",
            "first_name": "Ann",
            "last_name": "Doe",
            "roles": ["shareholder"],
            "ownership_percentage": 60,
        },
    ).json()["id"]
    body = profile(api, cid)
    assert body["reason"] == "organization.party_added"
    assert factor(body, "ownership_opacity")["details"]["untraced_percentage"] == 40.0
    assert body["score"] == 6.0
    api.patch(f"/v1/customers/{cid}/organization/parties/{ann}", json={"ownership_percentage": 100})
    assert profile(api, cid)["score"] == 0.0


def test_tenant_settings_change_thresholds_weights_and_country_lists(
    api: Api, api_as: Callable[..., Api]
) -> None:
    cid = new_customer(api, nationality="KE")
    assert profile(api, cid)["level"] == "LOW"
    settings = {
        "weights": {"country": 60},
        "thresholds": {"medium": 20, "high": 40},
        "country_lists": {
            "categories": {"internal": {"value": 1, "minimum_level": None, "countries": ["FR"]}}
        },
    }
    assert api_as(scopes=["kyc:update"]).put("/v1/risk/settings", json=settings).status_code == 403
    response = api.put("/v1/risk/settings", json=settings)
    assert response.status_code == 200, response.text
    assert response.json()["overridden"] == ["country_lists", "thresholds", "weights"]
    # KE is no longer listed for this tenant; FR is, at full weight: 60 -> HIGH.
    assert api.post(f"/v1/customers/{cid}/risk-profile").json()["score"] == 0.0
    api.patch(f"/v1/customers/{cid}", json={"nationality": "FR"})
    body = profile(api, cid)
    assert (body["score"], body["level"], body["thresholds"]) == (
        60.0,
        "HIGH",
        {"medium": 20.0, "high": 40.0},
    )
    # Back to the defaults.
    assert api.put("/v1/risk/settings", json={}).json()["country_lists"]["as_of"] == "2025-10-24"

    bad = api.put("/v1/risk/settings", json={"thresholds": {"medium": 80, "high": 40}})
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "thresholds.medium"


def test_tenant_isolation_and_scopes(api: Api, api_as: Callable[..., Api]) -> None:
    cid = new_customer(api)
    other = api_as(tenant="globex")
    assert other.get(f"/v1/customers/{cid}/risk-profile").status_code == 404
    assert other.post(f"/v1/customers/{cid}/risk-profile").status_code == 404
    assert other.get(f"/v1/customers/{cid}/risk-profile/history").status_code == 404
    reader = api_as(scopes=["kyc:read"])
    assert reader.get(f"/v1/customers/{cid}/risk-profile").status_code == 200
    assert reader.post(f"/v1/customers/{cid}/risk-profile").status_code == 403
    # Another tenant's settings do not leak into this tenant's profile.
    other.put(
        "/v1/risk/settings",
        json={"weights": {"country": 0}, "thresholds": {"medium": 0, "high": 0}},
    )
    assert api.post(f"/v1/customers/{cid}/risk-profile").json()["level"] == "LOW"


def test_interface_for_other_domains(api: Api, database: Database, creds: Credentials) -> None:
    cid = new_customer(api)
    ctx = RequestContext(creds.tenant_id, "sandbox", actor_type="system")
    with database.transaction() as db:
        assert service.current_risk_level(db, ctx, cid) == "LOW"
        assert service.current_risk_level(db, RequestContext("other", "sandbox"), cid) is None
        db.execute(delete(RiskProfileHistory))
        db.execute(delete(RiskProfile))
        assert service.current_risk_level(db, ctx, cid) is None
    # Never stored: GET computes one for the response and stores nothing.
    body = profile(api, cid)
    assert (body["version"], body["level"]) == (0, "LOW")
    assert history(api, cid) == []
    with database.transaction() as db:
        stored = service.recalculate(db, ctx, cid, reason="compliance check")
        assert (stored.version, stored.level) == (1, "LOW")
    entries = history(api, cid)
    assert (entries[0]["actor_type"], entries[0]["reason"]) == ("system", "compliance check")


def test_recalculation_rolls_back_with_the_change(
    api: Api, database: Database, creds: Credentials
) -> None:
    cid = new_customer(api)
    ctx = RequestContext(creds.tenant_id, "sandbox")
    with database.session() as db:
        service.recalculate(db, ctx, cid, reason="discarded")
        db.rollback()
    assert profile(api, cid)["version"] == 1


def test_other_domains_events_trigger_recalculation(
    api: Api, database: Database, creds: Credentials
) -> None:
    from kycd.events.service import record_event

    cid = new_customer(api)
    ctx = RequestContext(creds.tenant_id, "sandbox", actor_type="system")
    with database.transaction() as db:
        for event_type in ("screening.hit.created", "screening.hit.reviewed", "applicantReviewed"):
            record_event(db, ctx, event_type, customer_id=cid)
        # Unknown customers and events without one are ignored, not errors.
        record_event(db, ctx, "screening.hit.created", customer_id="unknown")
        record_event(db, ctx, "applicant.updated")
    # Once per customer when the write commits, naming every event that asked.
    reasons = [h["reason"] for h in history(api, cid)]
    assert reasons == [
        "screening.hit.created, screening.hit.reviewed, applicantReviewed",
        "applicant.created",
    ]


def test_a_ubo_from_a_high_risk_country_makes_the_business_high(api: Api) -> None:
    payload = customer_payload(
        type="business",
        company_name="Root Ltd",
        first_name=None,
        last_name=None,
        date_of_birth=None,
        nationality=None,
        occupation=None,
        incorporation_country="DE",
    )
    cid = api.post("/v1/customers", json=payload).json()["id"]
    api.post(
        f"/v1/customers/{cid}/organization/parties",
        json={
            "type": "person",
            "first_name": "Ivan",
            "last_name": "Roe",
            "nationality": "IR",
            "roles": ["shareholder"],
            "ownership_percentage": 30,
        },
    )
    body = profile(api, cid)
    assert body["level"] == "HIGH"
    assert factor(body, "country")["details"]["related_parties"] == [
        {"party": "Ivan Roe", "nationality": "IR", "category": "high_risk"}
    ]


def test_worker_recalculates_profiles_after_a_settings_change(
    api: Api, api_as: Callable[..., Api], database: Database
) -> None:
    from kycd.risk.service import recalculate_outdated
    from kycd.settings import Settings

    cid = new_customer(api, nationality="FR")
    other = api_as(tenant="globex")
    other_cid = new_customer(other)
    run = lambda: recalculate_outdated(database, Settings(), utcnow())  # noqa: E731
    assert run() == 0  # everything is current
    settings = {
        "country_lists": {
            "categories": {"internal": {"value": 1, "minimum_level": "HIGH", "countries": ["FR"]}}
        }
    }
    assert api.put("/v1/risk/settings", json=settings).status_code == 200
    assert run() == 1  # only this tenant's profile was outdated
    body = profile(api, cid)
    assert (body["level"], body["reason"], body["version"]) == ("HIGH", "risk settings changed", 2)
    assert history(api, cid)[0]["actor_type"] == "system"
    assert profile(other, other_cid)["version"] == 1
    assert run() == 0


def test_an_added_address_moves_the_residence_at_once(api: Api, database: Database) -> None:
    # The recalculation runs in the writer's transaction: it must see the new
    # address, not the customer's address list as loaded before it.
    cid = new_customer(api, addresses=[], country_of_residence=None)
    assert factor(profile(api, cid), "country")["details"].get("country_of_residence") is None
    address = {
        "addressType": "RESIDENTIAL",
        "isPrimary": True,
        "addressLine1": "1 Ferdowsi Avenue",
        "city": "Tehran",
        "countryCode": "IR",
    }
    assert api.post(f"/v1/clients/{cid}/addresses", json=address).status_code in {200, 201}
    body = profile(api, cid)
    assert factor(body, "country")["details"]["country_of_residence"] == {
        "country": "IR",
        "category": "high_risk",
    }
    assert (body["level"], body["reason"]) == ("HIGH", "applicant.address_added")
    assert level_events(database, cid)[-1] == ("LOW", "HIGH")


def test_worker_recalculates_profiles_after_the_ubo_threshold_changes(
    api: Api, database: Database
) -> None:
    # Who counts as an owner feeds the ownership factor: profiles calculated
    # under the old threshold are outdated.
    from kycd.risk.service import recalculate_outdated
    from kycd.settings import Settings

    new_customer(api)
    run = lambda: recalculate_outdated(database, Settings(), utcnow())  # noqa: E731
    assert run() == 0
    response = api.put("/v1/organization/settings", json={"ubo_threshold": 10})
    assert response.status_code == 200, response.text
    assert run() == 1
    assert run() == 0
