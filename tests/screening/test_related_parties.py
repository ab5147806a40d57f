"""Screening a monitored business's related parties (UBOs, directors, companies)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from test_screening_api import LIST_CSV, delta_line, drain, events, upload

from compliance.compliance_fixtures import ctx_of, status
from conftest import Api
from kycd.db import Database
from kycd.organization import service as organization
from kycd.organization.models import RelatedParty
from kycd.screening import lists, monitoring, service
from kycd.screening.engine import screen_view
from kycd.screening.service import hit_summary
from kycd.settings import Settings
from kycd.verification import service as verification

IVAN = {
    "type": "person",
    "first_name": "Ivan",
    "last_name": "Petrov",
    "date_of_birth": "1970-03-04",
    "nationality": "RU",
}
MARIA = {"type": "person", "first_name": "Maria", "last_name": "Gonzalez", "roles": ["director"]}
ROE = {"type": "company", "company_name": "Roe Holdings Ltd", "country": "GB"}
CLEAN = {"type": "person", "first_name": "Ada", "last_name": "Lovelace", "roles": ["director"]}
# The list without Ivan (own-1).
LIST_WITHOUT_IVAN = "\n".join(line for line in LIST_CSV.splitlines() if "own-1" not in line)


def business(api: Api, name: str = "Acme Trading GmbH") -> str:
    body = {
        "client_id": "biz-" + name.replace(" ", "-"),
        "type": "business",
        "company_name": name,
        "incorporation_country": "DE",
        "email": "office@example.com",
    }
    response = api.post("/v1/customers", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def add_party(api: Api, customer_id: str, body: dict[str, Any]) -> str:
    response = api.post(f"/v1/customers/{customer_id}/organization/parties", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ubo(api: Api, customer_id: str, body: dict[str, Any] = IVAN) -> str:
    return add_party(
        api, customer_id, {**body, "roles": ["shareholder"], "ownership_percentage": 60}
    )


def hits(api: Api, customer_id: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/v1/customers/{customer_id}/screening-hits", params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def on(found: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    """(party id, entity id) of each hit."""
    return {(h["party_id"], h["entity_id"]) for h in found}


def test_enrolment_screens_the_business_and_its_parties(api: Api, database: Database) -> None:
    assert upload(api, "own", LIST_CSV).status_code == 201
    acme = business(api)
    ivan = ubo(api, acme)
    roe = add_party(api, acme, ROE)
    add_party(api, acme, CLEAN)

    response = api.post(f"/v1/customers/{acme}/monitor")
    assert response.status_code == 200, response.text
    body = response.json()
    assert on(body["hits"]) == {(ivan, "own-1"), (roe, "own-2")}
    names = {h["party_id"]: h["party_name"] for h in body["hits"]}
    assert names == {ivan: "Ivan Petrov", roe: "Roe Holdings Ltd"}
    assert all(h["customer_id"] == acme for h in body["hits"])
    # A sanctioned UBO is a sanctions hit of the business.
    summary = body["summary"]
    assert (summary["open_hits"], summary["sanctions"], summary["adverse_media"]) == (2, 1, 1)
    assert on(hits(api, acme)) == on(body["hits"])
    created = events(database, "screening.hit.created")
    assert {(e.customer_id, e.payload["party_id"]) for e in created} == {(acme, ivan), (acme, roe)}


def test_the_business_and_its_party_each_have_a_hit_on_one_entity(api: Api) -> None:
    upload(api, "own", LIST_CSV)
    roe_uk = business(api, "Roe Holdings Ltd")
    roe_parent = add_party(
        api, roe_uk, {**ROE, "roles": ["shareholder"], "ownership_percentage": 100}
    )
    found = api.post(f"/v1/customers/{roe_uk}/monitor").json()["hits"]
    assert on(found) == {(None, "own-2"), (roe_parent, "own-2")}
    own = next(h for h in found if h["party_id"] is None)
    assert own["party_name"] is None
    # Enrolling again after a new version finds the same two hits, each
    # brought up to date on its own.
    version = upload(api, "own", LIST_CSV).json()["id"]
    again = api.post(f"/v1/customers/{roe_uk}/monitor").json()["hits"]
    assert {h["id"] for h in again} == {h["id"] for h in found}
    assert {h["list_version_id"] for h in again} == {version}
    # The party no longer matches: its hit goes, the business's own stays.
    renamed = api.patch(
        f"/v1/customers/{roe_uk}/organization/parties/{roe_parent}",
        json={"company_name": "Blue Harbour Partners"},
    )
    assert renamed.status_code == 200, renamed.text
    assert [h["id"] for h in hits(api, roe_uk)] == [own["id"]]
    assert [h["id"] for h in api.post(f"/v1/customers/{roe_uk}/monitor").json()["hits"]] == [
        own["id"]
    ]


def test_a_party_added_changed_or_removed_is_screened_at_once(api: Api, database: Database) -> None:
    upload(api, "own", LIST_CSV)
    acme = business(api)
    unmonitored = business(api, "Beta Ltd")
    assert api.post(f"/v1/customers/{acme}/monitor").json()["hits"] == []

    ivan = ubo(api, acme)
    (hit,) = hits(api, acme)
    assert (hit["party_id"], hit["party_name"], hit["entity_id"]) == (ivan, "Ivan Petrov", "own-1")
    with database.session() as db:
        summary = hit_summary(db, ctx_of(database, acme), acme)
    assert (summary.open_hits, summary.sanctions) == (1, 1)
    # The business is not monitored: its parties are not screened either.
    ubo(api, unmonitored)
    assert hits(api, unmonitored) == []

    # A director renamed into a listed person is screened again.
    director = add_party(api, acme, {**CLEAN, "date_of_birth": "1985-01-01"})
    renamed = api.patch(
        f"/v1/customers/{acme}/organization/parties/{director}",
        json={"first_name": "Maria", "last_name": "Gonzalez"},
    )
    assert renamed.status_code == 200, renamed.text
    assert on(hits(api, acme)) == {(ivan, "own-1"), (director, "own-3")}

    removed = api.delete(f"/v1/customers/{acme}/organization/parties/{ivan}")
    assert removed.status_code == 204, removed.text
    assert on(hits(api, acme)) == {(director, "own-3")}
    withdrawn = events(database, "screening.hit.withdrawn")
    assert [(e.payload["party_id"], e.payload["reason"]) for e in withdrawn] == [
        (ivan, "related party removed")
    ]
    # The withdrawn hit stays on record, and still names the party.
    (gone,) = [h for h in hits(api, acme, include_inactive=True) if not h["active"]]
    assert (gone["party_id"], gone["party_name"]) == (ivan, "Ivan Petrov")
    with database.session() as db:
        summary = hit_summary(db, ctx_of(database, acme), acme)
    assert (summary.open_hits, summary.sanctions, summary.pep) == (1, 0, 1)


def test_a_rescreen_finds_and_withdraws_party_hits(
    api: Api, database: Database, settings: Settings
) -> None:
    upload(api, "own", LIST_WITHOUT_IVAN)
    acme = business(api)
    ivan = ubo(api, acme)
    olga = add_party(
        api,
        acme,
        {"type": "person", "first_name": "Olga", "last_name": "Smirnova", "roles": ["director"]},
    )
    assert api.post(f"/v1/customers/{acme}/monitor").json()["hits"] == []

    # A full version that lists Ivan.
    assert upload(api, "own", LIST_CSV).status_code == 201
    drain(database, settings)
    assert on(hits(api, acme)) == {(ivan, "own-1")}
    # A delta that adds Olga and deletes Ivan.
    delta = delta_line("ADD", "new-1", name=["Olga Smirnova"], topics=["sanction"]) + delta_line(
        "DEL", "own-1"
    )
    assert upload(api, "own", delta, "ftm-delta", "d1.delta.json").status_code == 201
    drain(database, settings)
    assert on(hits(api, acme)) == {(olga, "new-1")}
    created = [e.payload["party_id"] for e in events(database, "screening.hit.created")]
    assert sorted(created) == sorted([ivan, olga])


def test_a_party_removed_while_its_batch_is_screened_gets_no_hit(
    api: Api, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is screened in one session and written in another: a party
    removed in between must not come back as a hit."""
    upload(api, "own", LIST_WITHOUT_IVAN)
    acme = business(api)
    ivan = ubo(api, acme)
    api.post(f"/v1/customers/{acme}/monitor")
    drain(database, settings)
    screen_next = monitoring._screen_next

    def screen_then_remove(*args: Any) -> Any:
        plan = screen_next(*args)
        if plan is not None and plan.customer_ids:
            removed = api.delete(f"/v1/customers/{acme}/organization/parties/{ivan}")
            assert removed.status_code == 204, removed.text
        return plan

    monkeypatch.setattr(monitoring, "_screen_next", screen_then_remove)
    upload(api, "own", LIST_CSV)
    drain(database, settings)
    assert hits(api, acme, include_inactive=True) == []


def test_a_false_positive_on_a_party_sticks_until_the_entity_changes(
    api: Api, database: Database, settings: Settings
) -> None:
    upload(api, "own", LIST_CSV)
    acme = business(api)
    maria = add_party(api, acme, MARIA)
    (hit,) = api.post(f"/v1/customers/{acme}/monitor").json()["hits"]
    assert hit["party_id"] == maria
    review = api.post(
        f"/v1/screening/hits/{hit['id']}/review",
        json={"decision": "false_positive", "note": "Another Maria Gonzalez"},
    )
    assert review.status_code == 200, review.text
    assert review.json()["party_id"] == maria

    # Re-screened by a new version, by a change to the party, by enrolling again.
    upload(api, "own", LIST_CSV)
    drain(database, settings)
    retitled = api.patch(
        f"/v1/customers/{acme}/organization/parties/{maria}", json={"title": "CEO"}
    )
    assert retitled.status_code == 200, retitled.text
    api.post(f"/v1/customers/{acme}/monitor")
    assert [(h["id"], h["status"]) for h in hits(api, acme)] == [(hit["id"], "false_positive")]
    assert events(database, "screening.hit.reopened") == []
    with database.session() as db:
        assert hit_summary(db, ctx_of(database, acme), acme).clear

    # The list changes the entity: the party's hit is open again.
    delta = delta_line("MOD", "own-3", name=["Maria Gonzalez"], topics=["role.pep", "crime"])
    assert upload(api, "own", delta, "ftm-delta", "d2.delta.json").status_code == 201
    drain(database, settings)
    assert [(h["id"], h["status"]) for h in hits(api, acme)] == [(hit["id"], "open")]
    (reopened,) = events(database, "screening.hit.reopened")
    assert reopened.payload["party_id"] == maria


def aml_step(database: Database, customer_id: str) -> verification.StepView:
    with database.session() as db:
        run = verification.current_run_view(db, ctx_of(database, customer_id), customer_id)
    step = run.step("aml") if run is not None else None
    assert step is not None
    return step


def test_a_confirmed_sanctioned_ubo_denies_the_business(api: Api, database: Database) -> None:
    upload(api, "own", LIST_CSV)
    acme = business(api)
    assert api.post("/v1/sessions", json={"customer_id": acme}).status_code == 201
    ubo(api, acme)
    (hit,) = api.post(f"/v1/customers/{acme}/monitor").json()["hits"]
    # The run waits for the review of the party's hit.
    assert aml_step(database, acme).review_status == "submitted"
    assert status(api, acme)["onboardingStatus"] != "DENIED_COMPLIANCE"

    confirmed = api.post(
        f"/v1/screening/hits/{hit['id']}/review",
        json={"decision": "confirmed", "note": "Same person: passport checked"},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert status(api, acme)["onboardingStatus"] == "DENIED_COMPLIANCE"
    aml = aml_step(database, acme)
    assert (aml.review_reject_type, aml.reject_labels) == ("FINAL", ("SANCTIONS",))


def test_a_party_removed_while_a_batch_writes_waits_for_it_and_withdraws_its_hit(
    api: Api, database: Database, settings: Settings
) -> None:
    """PostgreSQL (READ COMMITTED): the batch's write holds shared locks on the
    parties it screened, so a removal waits for its commit and then sees (and
    withdraws) the hit the batch wrote, instead of leaving it active on a
    party that no longer exists."""
    if not database.url.startswith("postgresql"):
        pytest.skip("SQLite's writer holds the only write lock (BEGIN IMMEDIATE)")
    assert upload(api, "own", LIST_CSV).status_code == 201
    acme = business(api)
    ivan = ubo(api, acme)
    ctx = ctx_of(database, acme)
    removal_done = threading.Event()

    def remove() -> None:
        with database.transaction() as db:
            organization.remove_party(db, ctx, acme, ivan)
        removal_done.set()

    with database.transaction() as db:  # the batch's write
        party = db.get(RelatedParty, ivan)
        assert party is not None
        target = service.target_of(party)
        plan = monitoring._Plan(ctx, "", customer_ids=[acme])
        plan.screened.append(monitoring._Screened(acme, target, [], party.updated_at))
        assert ivan in monitoring._current_party_versions(db, ctx, plan)
        remover = threading.Thread(target=remove)
        remover.start()
        assert not removal_done.wait(1.0), "the removal did not wait for the batch"
        ((watchlist, version),) = lists.current_versions(db, ctx)
        found = screen_view(
            lists.open_view(settings, version),
            service.subject_of_party(party),
            threshold=service.tenant_threshold(db, ctx),
        )
        assert [f.record["id"] for f in found] == ["own-1"]
        service.reconcile(db, ctx, acme, watchlist, version, found, [], target=target)
    remover.join(timeout=30)
    assert removal_done.is_set()
    assert hits(api, acme) == []
    withdrawn = hits(api, acme, include_inactive=True)
    assert [(h["party_id"], h["active"]) for h in withdrawn] == [(ivan, False)]
