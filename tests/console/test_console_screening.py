"""Screening hit triage in the console (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_console_pages import browser, console_app, csrf_of, login, make_operator  # noqa: F401

from conftest import Api, Credentials
from factories import customer_payload
from kycd.db import Database
from kycd.events.models import Event

LIST_CSV = (
    "id,schema,name,aliases,birth_date,nationality,country,identifiers,topics\n"
    "own-1,Person,Ivan Petrov,Иван Петров,1970-03-04,ru,,,sanction\n"
    "own-3,Person,Maria Gonzalez,,1985-01-01,es,,,role.pep\n"
)


@pytest.fixture
def partner(browser: TestClient, make_credentials: Callable[..., Credentials]) -> Api:  # noqa: F811
    api = Api(browser, make_credentials("acme", "sandbox").bearer)
    uploaded = api.post(
        "/v1/screening/watchlists/own/imports",
        data={"format": "csv"},
        files={"file": ("list.csv", LIST_CSV.encode(), "application/octet-stream")},
    )
    assert uploaded.status_code == 201, uploaded.text
    return api


def hit_for(api: Api, client_id: str, **names: str) -> tuple[str, str]:
    """A monitored customer with one open hit: (customer id, hit id)."""
    created = api.post("/v1/customers", json=customer_payload(client_id=client_id, **names))
    assert created.status_code == 201, created.text
    customer_id = str(created.json()["id"])
    monitored = api.post(f"/v1/customers/{customer_id}/monitor")
    assert monitored.status_code == 200, monitored.text
    (hit,) = monitored.json()["hits"]
    return customer_id, str(hit["id"])


def test_open_hits_page_and_triage_side_by_side(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="reviewer")
    _, ivan_hit = hit_for(
        partner,
        "ivan",
        first_name="Ivan",
        last_name="Petrov",
        date_of_birth="1970-03-04",
        nationality="RU",
    )
    login(browser)
    listing = browser.get("/console/screening")
    assert listing.status_code == 200
    assert re.findall(r'data-hit="([^"]+)"', listing.text) == [ivan_hit]
    dashboard = browser.get("/console/dashboard").text
    assert re.search(r'id="open-hits-count">1<', dashboard)
    page = browser.get(f"/console/screening/hits/{ivan_hit}")
    assert page.status_code == 200
    customer_side = page.text[
        page.text.index('id="customer-side"') : page.text.index('id="entity-side"')
    ]
    entity_side = page.text[
        page.text.index('id="entity-side"') : page.text.index('id="explanation"')
    ]
    assert "1970-03-04" in customer_side and "Ivan Petrov" in customer_side
    assert "Иван Петров" in entity_side and "sanction" in entity_side
    assert "birth_date supports" in page.text


def test_confirm_and_false_positive_go_through_the_screening_service(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
    database: Database,
) -> None:
    ada = make_operator(role="reviewer")
    ivan, ivan_hit = hit_for(
        partner,
        "ivan",
        first_name="Ivan",
        last_name="Petrov",
        date_of_birth="1970-03-04",
        nationality="RU",
    )
    _, maria_hit = hit_for(
        partner, "maria", first_name="Maria", last_name="Gonzalez", date_of_birth="1985-01-01"
    )
    login(browser)
    page = f"/console/screening/hits/{ivan_hit}"
    token = csrf_of(browser.get(page).text)
    missing_note = browser.post(
        f"{page}/review", data={"csrf_token": token, "decision": "confirmed", "note": " "}
    )
    assert missing_note.status_code == 400 and "note" in missing_note.text
    confirmed = browser.post(
        f"{page}/review",
        data={
            "csrf_token": token,
            "decision": "confirmed",
            "note": "Same person: DOB and passport",
        },
    )
    assert confirmed.status_code == 303
    hits = partner.get(f"/v1/customers/{ivan}/screening-hits").json()["data"]
    assert (hits[0]["status"], hits[0]["review_note"], hits[0]["reviewed_by"]) == (
        "confirmed",
        "Same person: DOB and passport",
        ada,
    )
    with database.session() as db:
        (reviewed,) = db.scalars(select(Event).where(Event.type == "screening.hit.reviewed"))
    assert (reviewed.actor_type, reviewed.actor_id) == ("operator", ada)

    page = f"/console/screening/hits/{maria_hit}"
    token = csrf_of(browser.get(page).text)
    dismissed = browser.post(
        f"{page}/review",
        data={"csrf_token": token, "decision": "false_positive", "note": "Different person"},
    )
    assert dismissed.status_code == 303
    assert re.findall(r'data-hit="([^"]+)"', browser.get("/console/screening").text) == []


def test_a_viewer_cannot_triage(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="viewer")
    _, hit = hit_for(partner, "maria", first_name="Maria", last_name="Gonzalez")
    login(browser)
    page = browser.get(f"/console/screening/hits/{hit}")
    assert page.status_code == 200 and "False positive" not in page.text
    refused = browser.post(
        f"/console/screening/hits/{hit}/review",
        data={"csrf_token": csrf_of(page.text), "decision": "confirmed", "note": "x"},
    )
    assert refused.status_code == 403


def test_triage_of_a_hit_on_a_related_party_shows_the_party(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="reviewer")
    body = customer_payload(client_id="acme-gmbh", type="business", company_name="Acme GmbH")
    acme = partner.post("/v1/customers", json=body).json()["id"]
    party = {
        "type": "person",
        "first_name": "Ivan",
        "last_name": "Petrov",
        "date_of_birth": "1970-03-04",
        "roles": ["director"],
    }
    added = partner.post(f"/v1/customers/{acme}/organization/parties", json=party)
    assert added.status_code == 201, added.text
    (hit,) = partner.post(f"/v1/customers/{acme}/monitor").json()["hits"]
    login(browser)
    page = browser.get(f"/console/screening/hits/{hit['id']}")
    assert page.status_code == 200
    customer_side = page.text[
        page.text.index('id="customer-side"') : page.text.index('id="entity-side"')
    ]
    assert "Acme GmbH" in customer_side
    # The party as screened, not the business.
    assert "Related party" in customer_side and "1970-03-04" in customer_side
