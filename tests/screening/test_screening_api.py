"""Screening through the API: lists, ad hoc matches, monitoring, reviews."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from compliance.compliance_fixtures import approved_customer, ctx_of, status
from conftest import Api, Credentials
from factories import customer_payload
from kycd.customers.models import Customer
from kycd.db import Database
from kycd.events.models import Event
from kycd.risk import service as risk
from kycd.risk.models import RiskProfileHistory
from kycd.screening import lists
from kycd.screening.importers import ListFormat
from kycd.screening.monitoring import run_pending
from kycd.screening.service import hit_summary
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.verification import service as verification

LIST_CSV = (
    "id,schema,name,aliases,birth_date,nationality,country,identifiers,topics\n"
    "own-1,Person,Ivan Petrov,Иван Петров,1970-03-04,ru,,,sanction\n"
    "own-2,Company,Roe Holdings Ltd,,,,gb,,crime\n"
    "own-3,Person,Maria Gonzalez,,1985-01-01,es,,,role.pep\n"
)


def upload(api: Api, name: str, text: str, fmt: str = "csv", filename: str = "list.csv") -> Any:
    return api.post(
        f"/v1/screening/watchlists/{name}/imports",
        data={"format": fmt},
        files={"file": (filename, text.encode(), "application/octet-stream")},
    )


def delta_line(op: str, entity_id: str, schema: str = "Person", **props: list[str]) -> str:
    entity = {"id": entity_id, "schema": schema, "properties": props}
    return orjson.dumps({"op": op, "entity": entity}).decode() + "\n"


def customer(api: Api, **overrides: Any) -> str:
    response = api.post("/v1/customers", json=customer_payload(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def drain(database: Database, settings: Settings) -> None:
    while run_pending(database, settings, datetime.now(UTC)):
        pass


def events(database: Database, event_type: str) -> list[Event]:
    with database.session() as db:
        return list(db.scalars(select(Event).where(Event.type == event_type)))


def test_import_and_match_ad_hoc(api: Api) -> None:
    created = upload(api, "own", LIST_CSV)
    assert created.status_code == 201, created.text
    assert created.json()["entity_count"] == 3
    response = api.post(
        "/v1/screening/match",
        json={"type": "individual", "name": "Иван Петров", "date_of_birth": "1970-03-04"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["screened_lists"][0]["watchlist"] == "own"
    top = body["matches"][0]
    assert top["entity_id"] == "own-1"
    assert top["schema"] == "Person"
    assert top["topics"] == ["sanction"]
    assert top["score"] >= body["threshold"]
    assert "birth_date supports" in top["explanation"]["summary"]


def test_match_validates_its_body(api: Api) -> None:
    response = api.post("/v1/screening/match", json={"name": "", "countries": ["XX"]})
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["details"]}
    assert fields == {"name", "countries"}


def test_list_administration_needs_the_admin_scope(api_as: Callable[..., Api]) -> None:
    reader = api_as(scopes=["kyc:read"])
    assert upload(reader, "own", LIST_CSV).status_code == 403
    assert reader.get("/v1/screening/watchlists").status_code == 403


def test_monitor_screens_at_once_and_records_hit_events(api: Api, database: Database) -> None:
    upload(api, "own", LIST_CSV)
    ivan = customer(
        api, first_name="Ivan", last_name="Petrov", date_of_birth="1970-03-04", nationality="RU"
    )
    clean = customer(api, first_name="Ada", last_name="Lovelace")
    response = api.post(f"/v1/customers/{ivan}/monitor")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["monitoring"] is True
    assert [h["entity_id"] for h in body["hits"]] == ["own-1"]
    assert body["summary"]["open_hits"] == 1 and body["summary"]["sanctions"] == 1
    created = events(database, "screening.hit.created")
    assert [e.customer_id for e in created] == [ivan]
    assert api.post(f"/v1/customers/{clean}/monitor", json={}).json()["hits"] == []
    hits = api.get(f"/v1/customers/{ivan}/screening-hits").json()
    assert hits["pagination"]["total"] == 1
    assert hits["data"][0]["explanation"]["name"]["candidate"]


def test_false_positive_sticks_until_the_entity_changes(
    api: Api, database: Database, settings: Settings
) -> None:
    upload(api, "own", LIST_CSV)
    maria = customer(api, first_name="Maria", last_name="Gonzalez", date_of_birth="1985-01-01")
    hit = api.post(f"/v1/customers/{maria}/monitor").json()["hits"][0]
    review = api.post(
        f"/v1/screening/hits/{hit['id']}/review",
        json={"decision": "false_positive", "note": "Different person: other passport"},
    )
    assert review.status_code == 200, review.text
    assert review.json()["status"] == "false_positive"
    assert len(events(database, "screening.hit.reviewed")) == 1

    # A new version with the same entity: the decision stands.
    upload(api, "own", LIST_CSV)
    drain(database, settings)
    again = api.get(f"/v1/customers/{maria}/screening-hits").json()["data"]
    assert [(h["id"], h["status"]) for h in again] == [(hit["id"], "false_positive")]
    assert events(database, "screening.hit.reopened") == []

    # The list changes the entity: the hit is reopened for review.
    delta = delta_line(
        "MOD",
        "own-3",
        name=["Maria Gonzalez"],
        birthDate=["1985-01-01"],
        passportNumber=["X1234567"],
        topics=["role.pep"],
    )
    assert upload(api, "own", delta, "ftm-delta", "d1.delta.json").status_code == 201
    drain(database, settings)
    reopened = api.get(f"/v1/customers/{maria}/screening-hits").json()["data"]
    assert [(h["id"], h["status"]) for h in reopened] == [(hit["id"], "open")]
    assert len(events(database, "screening.hit.reopened")) == 1


def test_monitoring_after_a_delta(api: Api, database: Database, settings: Settings) -> None:
    upload(api, "own", LIST_CSV)
    ivan = customer(api, first_name="Ivan", last_name="Petrov", date_of_birth="1970-03-04")
    olga = customer(api, first_name="Olga", last_name="Smirnova", date_of_birth="1990-07-07")
    api.post(f"/v1/customers/{ivan}/monitor")
    assert api.post(f"/v1/customers/{olga}/monitor").json()["hits"] == []

    delta = delta_line(
        "ADD", "new-1", name=["Olga Smirnova"], birthDate=["1990-07-07"], topics=["sanction"]
    ) + delta_line("DEL", "own-1")
    created = upload(api, "own", delta, "ftm-delta", "20260101-abc.delta.json")
    assert created.status_code == 201, created.text
    assert (created.json()["added"], created.json()["deleted"]) == (1, 1)
    assert created.json()["version"] == "20260101-abc"

    # The deleted entity's hit is withdrawn by the import itself.
    assert api.get(f"/v1/customers/{ivan}/screening-hits").json()["data"] == []
    assert len(events(database, "screening.hit.withdrawn")) == 1
    # The worker screens monitored customers against the added entity.
    drain(database, settings)
    olga_hits = api.get(f"/v1/customers/{olga}/screening-hits").json()["data"]
    assert [h["entity_id"] for h in olga_hits] == ["new-1"]
    created_events = [e.customer_id for e in events(database, "screening.hit.created")]
    assert created_events.count(olga) == 1
    lists_out = api.get("/v1/screening/watchlists/own").json()
    assert lists_out["current_version"]["kind"] == "delta"
    assert all(t["status"] == "done" for t in lists_out["rescreens"])


def test_a_rescreen_batch_leaves_each_customer_as_a_write_of_its_own_would(
    api: Api, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-screen writes a batch of customers in one transaction, and the
    screening, risk and compliance hooks read the batch together: each
    customer must still end as the single-customer paths say."""
    # One shard of customer ids, so that everyone is in one batch.
    monkeypatch.setattr(lists, "SHARDS", (("", "~"),))
    ivan = customer(
        api, first_name="Ivan", last_name="Petrov", date_of_birth="1970-03-04", nationality="RU"
    )
    assert api.post("/v1/sessions", json={"customer_id": ivan}).status_code == 201
    maria = approved_customer(
        api, database, first_name="Maria", last_name="Gonzalez", date_of_birth="1985-01-01"
    )
    roe = customer(api, type="business", company_name="Roe Holdings Ltd", first_name=None)
    ada = customer(api, first_name="Ada", last_name="Lovelace")
    olga = approved_customer(
        api, database, first_name="Olga", last_name="Smirnova", date_of_birth="1990-07-07"
    )
    everyone = [ivan, maria, roe, ada, olga]
    # The first version lists only Olga; the next one the others, not her.
    first = LIST_CSV.splitlines()[0] + "\nown-4,Person,Olga Smirnova,,1990-07-07,,,,sanction\n"
    assert upload(api, "own", first).status_code == 201
    for customer_id in everyone:
        api.post(f"/v1/customers/{customer_id}/monitor")
    drain(database, settings)
    assert [h["entity_id"] for h in _hits(api, olga)] == ["own-4"]
    before = {c: status(api, c) for c in everyone}

    assert upload(api, "own", LIST_CSV).status_code == 201
    drain(database, settings)

    found = {c: [h["entity_id"] for h in _hits(api, c)] for c in everyone}
    assert found == {ivan: ["own-1"], maria: ["own-3"], roe: ["own-2"], ada: [], olga: []}
    ctx = ctx_of(database, ivan)
    with database.session() as db:
        for customer_id in everyone:
            stored = risk.get_profile(db, ctx, customer_id)
            customer_row = db.get(Customer, customer_id)
            assert customer_row is not None
            fresh, _config = risk.assess_customer(db, ctx, customer_row)
            assert (stored.score, stored.level) == (fresh.score, fresh.level.value)
            assert [f.model_dump() for f in stored.factors] == [f.as_dict() for f in fresh.factors]
        reasons = db.scalars(
            select(RiskProfileHistory.customer_id).where(
                RiskProfileHistory.reason == "screening.hit.created"
            )
        ).all()
        run = verification.current_run_view(db, ctx, ivan)
    # Once each (Olga's was her enrolment); none for Ada.
    assert sorted(reasons) == sorted([ivan, maria, roe, olga])
    # Ivan's aml step was completed GREEN when he was enrolled clear; a
    # decided step stands (compliance reads the open hit itself).
    aml = run.step("aml") if run is not None else None
    assert aml is not None and (aml.review_status, aml.review_answer) == ("completed", "GREEN")
    after = {c: status(api, c) for c in everyone}  # each checked against evaluating it alone
    assert after[ada] == before[ada]
    assert after[maria] != before[maria]  # a PEP now needs the source of funds
    # Her hit was withdrawn: approved, no longer waiting for its review.
    assert (before[olga]["onboardingStatus"], after[olga]["onboardingStatus"]) == (
        "PROCESSING",
        "APPROVED",
    )


def _hits(api: Api, customer_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/customers/{customer_id}/screening-hits")
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["data"]
    return hits


def test_review_needs_the_review_scope_and_a_note(api: Api, api_as: Callable[..., Api]) -> None:
    upload(api, "own", LIST_CSV)
    ivan = customer(api, first_name="Ivan", last_name="Petrov")
    hit_id = api.post(f"/v1/customers/{ivan}/monitor").json()["hits"][0]["id"]
    reader = api_as(scopes=["kyc:read"])
    decision = {"decision": "confirmed", "note": "Same person"}
    assert reader.post(f"/v1/screening/hits/{hit_id}/review", json=decision).status_code == 403
    bad = api.post(f"/v1/screening/hits/{hit_id}/review", json={"decision": "maybe", "note": ""})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["details"]} == {"decision", "note"}
    ok = api.post(f"/v1/screening/hits/{hit_id}/review", json=decision)
    assert ok.json()["status"] == "confirmed"
    assert api.post(f"/v1/customers/{ivan}/monitor").json()["summary"]["confirmed_hits"] == 1


def test_tenants_are_isolated(
    api: Api, api_as: Callable[..., Api], creds: Credentials, database: Database
) -> None:
    upload(api, "own", LIST_CSV)
    ivan = customer(api, first_name="Ivan", last_name="Petrov")
    hit_id = api.post(f"/v1/customers/{ivan}/monitor").json()["hits"][0]["id"]
    other = api_as(tenant="globex")
    assert other.post(f"/v1/customers/{ivan}/monitor").status_code == 404
    assert other.get(f"/v1/customers/{ivan}/screening-hits").status_code == 404
    review = {"decision": "confirmed", "note": "x"}
    assert other.post(f"/v1/screening/hits/{hit_id}/review", json=review).status_code == 404
    # Another tenant's lists are not screened against.
    match = other.post("/v1/screening/match", json={"name": "Ivan Petrov"}).json()
    assert match == {"threshold": 0.5, "screened_lists": [], "matches": []}
    assert other.get("/v1/screening/watchlists").json() == []
    # Nor another environment's.
    production = api_as(environment="production")
    match = production.post("/v1/screening/match", json={"name": "Ivan Petrov"}).json()
    assert match["screened_lists"] == []
    own_match = api.post("/v1/screening/match", json={"name": "Ivan Petrov", "watchlists": ["own"]})
    assert [m["entity_id"] for m in own_match.json()["matches"]] != []
    with database.session() as db:
        foreign = RequestContext("another-tenant", "sandbox")
        assert hit_summary(db, foreign, ivan).open_hits == 0
        own = RequestContext(creds.tenant_id, "sandbox")
        assert hit_summary(db, own, ivan).open_hits == 1


def test_failed_import_leaves_the_current_version(
    api: Api, database: Database, settings: Settings, creds: Credentials
) -> None:
    upload(api, "own", LIST_CSV)
    before = api.get("/v1/screening/watchlists/own").json()["current_version"]
    broken = upload(api, "own", "id,schema,name\nx,Spaceship,Enterprise\n")
    assert broken.status_code == 400
    assert api.get("/v1/screening/watchlists/own").json()["current_version"] == before
    leftovers = [p.name for p in lists.screening_root(settings).iterdir()]
    assert all(not p.endswith(".partial") and not p.startswith("upload-") for p in leftovers)


def test_import_swaps_atomically(
    api: Api, database: Database, settings: Settings, creds: Credentials, tmp_path: Path
) -> None:
    ctx = RequestContext(creds.tenant_id, "sandbox", actor_id="test")
    path = tmp_path / "v1.csv"
    path.write_text(LIST_CSV)
    first = lists.import_list(database, ctx, settings, "own", lists.Source(ListFormat.CSV, path))
    with database.session() as db:
        ((_, current),) = lists.current_versions(db, ctx)
        old_view = lists.open_view(settings, current)
    path.write_text(LIST_CSV.replace("Ivan Petrov,Иван Петров", "Boris Ivanov,Борис Иванов"))
    second = lists.import_list(database, ctx, settings, "own", lists.Source(ListFormat.CSV, path))
    with database.session() as db:
        ((_, current),) = lists.current_versions(db, ctx)
    assert current.id == second.id != first.id
    new_view = lists.open_view(settings, current)
    # A reader that opened the old version keeps a whole, consistent old list.
    assert old_view.get("own-1")["names"] == ["Ivan Petrov", "Иван Петров"]  # type: ignore[index]
    assert new_view.get("own-1")["names"] == ["Boris Ivanov", "Борис Иванов"]  # type: ignore[index]
    # A delta built on the old version cannot be swapped in over the new one.
    stale = lists.Prepared(
        "own",
        "stale",
        "stale",
        lists.VersionKind.DELTA,
        lists.Source(ListFormat.CSV, path),
        "stale",
        first.id,
        lists.builder.BuildResult(0),
    )
    with database.transaction() as db:
        try:
            lists.commit(db, ctx, settings, stale)
            raise AssertionError("a stale import must not commit")
        except lists.Conflict as exc:
            assert exc.status_code == 409
