"""Phase 2 pages through a real app and database (SQLite and PostgreSQL): the
review queue with assignment, step decisions on the customer page, the domain
panels, and documents shown inline."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from test_console_pages import browser, console_app, csrf_of, login, make_operator  # noqa: F401

from client_factories import pdf_bytes
from conftest import Api, Credentials
from factories import customer_payload
from kycd.console import overview
from kycd.db import Database
from kycd.events.models import Event

LEVEL = {"ttl_hours": 24, "steps": [{"kind": "identity_doc"}, {"kind": "questionnaire"}]}


@pytest.fixture
def partner(browser: TestClient, make_credentials: Callable[..., Credentials]) -> Api:  # noqa: F811
    """The tenant's API, on the same app the console runs in."""
    api = Api(browser, make_credentials("acme", "sandbox").bearer)
    assert api.put("/v1/levels/TWO", json=LEVEL).status_code == 200
    return api


def awaiting_applicant(api: Api, client_id: str, *, operator_review: bool = True) -> str:
    """A customer whose identity_doc step awaits an operator; returns the customer id."""
    customer = api.post("/v1/customers", json=customer_payload(client_id=client_id))
    assert customer.status_code == 201, customer.text
    run = api.post("/v1/sessions", json={"client_id": client_id, "level_name": "TWO"})
    assert run.status_code == 201, run.text
    base = f"/v1/sessions/{run.json()['id']}/steps"
    assert api.post(f"{base}/identity_doc/submit", json={"actor_type": "sdk"}).status_code == 200
    if operator_review:
        assert api.post(f"{base}/identity_doc/operator-review").status_code == 200
    return str(customer.json()["id"])


def step_of(api: Api, client_id: str, kind: str = "identity_doc") -> dict[str, Any]:
    rows = api.get(f"/v1/applicants/{client_id}/steps").json()["steps"]
    return next(dict(r) for r in rows if r["kind"] == kind)


def queue_rows(client: TestClient, query: str = "") -> list[tuple[str, str]]:
    page = client.get(f"/console/queue{query}")
    assert page.status_code == 200, page.text
    return re.findall(r'data-step="([^"]+)" data-client-id="([^"]+)"', page.text)


def post_form(client: TestClient, url: str, data: dict[str, str], page: str) -> Any:
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data})


def events(database: Database, event_type: str) -> list[Event]:
    with database.session() as db:
        return list(db.scalars(select(Event).where(Event.type == event_type).order_by(Event.seq)))


def decide(client: TestClient, customer_id: str, kind: str, **form: str) -> Any:
    page = client.get(f"/console/customers/{customer_id}")
    session_id = re.search(r'name="session_id" value="([^"]+)"', page.text)
    assert session_id, "no decision form on the page"
    return client.post(
        f"/console/customers/{customer_id}/steps/{kind}/decision",
        data={"csrf_token": csrf_of(page.text), "session_id": session_id.group(1), **form},
    )


# The queue ------------------------------------------------------------------------------


def test_queue_lists_waiting_steps_oldest_first_and_filters(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="reviewer")
    awaiting_applicant(partner, "first")
    awaiting_applicant(partner, "second", operator_review=False)  # submitted only
    third = partner.post("/v1/sessions", json={"client_id": "third", "level_name": "TWO"}).json()
    base = f"/v1/sessions/{third['id']}/steps/identity_doc"
    partner.post(f"{base}/submit", json={"actor_type": "sdk"})
    partner.post(f"{base}/start-review")
    login(browser)
    assert [c for _, c in queue_rows(browser)] == ["first", "third"]
    assert [c for _, c in queue_rows(browser, "?status=in_review")] == ["third"]
    assert queue_rows(browser, "?kind=questionnaire") == []
    assert len(queue_rows(browser, "?level=TWO")) == 2
    assert queue_rows(browser, "?min_age_hours=1") == []
    assert browser.get("/console/queue?kind=nonsense").status_code == 400


def test_assignment_is_an_event_and_one_operator_at_a_time(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
    database: Database,
) -> None:
    ada = make_operator(role="reviewer")
    make_operator(email="bob@acme.test", role="reviewer")
    customer_id = awaiting_applicant(partner, "applicant-1")
    login(browser)
    ((step_id, _),) = queue_rows(browser)
    taken = post_form(browser, f"/console/queue/{step_id}/assign", {}, "/console/queue")
    assert taken.status_code == 303
    assert queue_rows(browser, "?assignee=me") == [(step_id, "applicant-1")]
    assert queue_rows(browser, "?assignee=unassigned") == []
    (assigned,) = events(database, "review.assigned")
    assert (assigned.actor_type, assigned.actor_id, assigned.customer_id) == (
        "operator",
        ada,
        customer_id,
    )
    assert assigned.payload["stepKind"] == "identity_doc"
    assert assigned.payload["operator_email"] == "ada@acme.test"
    # Not for the partner's eyes.
    history = partner.get("/v1/applicants/applicant-1/review-history").json()
    assert "review.assigned" not in str(history)

    with TestClient(browser.app, follow_redirects=False) as bob:
        login(bob, email="bob@acme.test")
        refused = post_form(bob, f"/console/queue/{step_id}/assign", {}, "/console/queue")
        assert refused.status_code == 409
        assert "ada@acme.test" in refused.text
        freed = post_form(bob, f"/console/queue/{step_id}/unassign", {}, "/console/queue")
        assert freed.status_code == 303
        assert (
            post_form(bob, f"/console/queue/{step_id}/assign", {}, "/console/queue").status_code
            == 303
        )
    (unassigned,) = events(database, "review.unassigned")
    assert unassigned.payload["operator_email"] == "ada@acme.test"
    assert "bob@acme.test" in browser.get("/console/queue").text


def test_a_viewer_sees_the_queue_but_cannot_take_or_decide(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="viewer")
    customer_id = awaiting_applicant(partner, "applicant-v")
    login(browser)
    ((step_id, _),) = queue_rows(browser)
    assert "Assign to me" not in browser.get("/console/queue").text
    page = browser.get(f"/console/customers/{customer_id}")
    assert "Approve" not in page.text
    token = csrf_of(page.text)
    assert (
        browser.post(f"/console/queue/{step_id}/assign", data={"csrf_token": token}).status_code
        == 403
    )
    run_id = partner.get("/v1/customers/" + customer_id + "/sessions").json()["data"][0]["id"]
    refused = browser.post(
        f"/console/customers/{customer_id}/steps/identity_doc/decision",
        data={"csrf_token": token, "session_id": run_id, "decision": "approve"},
    )
    assert refused.status_code == 403
    assert step_of(partner, "applicant-v")["reviewStatus"] == "awaitingOperatorReview"


def test_another_tenants_operator_finds_nothing(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(tenant="globex", email="eve@globex.test", role="admin")
    customer_id = awaiting_applicant(partner, "applicant-x")
    login(browser, tenant="globex", email="eve@globex.test")
    assert queue_rows(browser) == []
    assert browser.get(f"/console/customers/{customer_id}").status_code == 404
    with TestClient(browser.app, follow_redirects=False) as acme:
        make_operator(role="viewer")
        login(acme)
        ((step_id, _),) = queue_rows(acme)
    token = csrf_of(browser.get("/console/queue").text)
    assert (
        browser.post(f"/console/queue/{step_id}/assign", data={"csrf_token": token}).status_code
        == 404
    )


# Decisions ------------------------------------------------------------------------------


def test_approving_a_step_flows_on_like_an_api_decision(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
    database: Database,
) -> None:
    ada = make_operator(role="reviewer")
    customer_id = awaiting_applicant(partner, "applicant-2")
    login(browser)
    ((step_id, _),) = queue_rows(browser)
    post_form(browser, f"/console/queue/{step_id}/assign", {}, "/console/queue")
    response = decide(browser, customer_id, "identity_doc", decision="approve")
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/customers/{customer_id}#step-identity_doc"
    step = step_of(partner, "applicant-2")
    assert (step["reviewStatus"], step["reviewAnswer"]) == ("completed", "GREEN")
    (verified,) = events(database, "applicant.verified")
    assert (verified.actor_type, verified.actor_id) == ("operator", ada)
    history = partner.get("/v1/applicants/applicant-2/review-history").json()
    assert "applicant.verified" in str(history)
    assert queue_rows(browser) == []
    # Decided: the step cannot be decided again; the page shows no form for it.
    page = browser.get(f"/console/customers/{customer_id}")
    assert 'action="/console/customers/' + customer_id + '/steps/identity_doc/decision"' not in (
        page.text
    )


def test_rejecting_with_labels_and_requesting_resubmission(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
    database: Database,
) -> None:
    make_operator(role="reviewer")
    first = awaiting_applicant(partner, "applicant-3")
    second = awaiting_applicant(partner, "applicant-4")
    login(browser)

    bad = decide(browser, first, "identity_doc", decision="reject", labels="blurry photo")
    assert bad.status_code == 400 and "labels" in bad.text
    empty = decide(browser, first, "identity_doc", decision="reject", labels=" ")
    assert empty.status_code == 400
    assert step_of(partner, "applicant-3")["reviewStatus"] == "awaitingOperatorReview"

    rejected = decide(
        browser,
        first,
        "identity_doc",
        decision="reject",
        reject_type="FINAL",
        labels="FORGERY, BAD_QUALITY_PICTURE",
    )
    assert rejected.status_code == 303
    step = step_of(partner, "applicant-3")
    assert (step["reviewAnswer"], step["reviewRejectType"], step["rejectLabels"]) == (
        "RED",
        "FINAL",
        ["FORGERY", "BAD_QUALITY_PICTURE"],
    )
    status = partner.get("/v1/applicants/applicant-3/status").json()
    assert (status["reviewAnswer"], status["reviewRejectType"]) == ("RED", "FINAL")
    compliance = partner.get(f"/v1/compliance/status/{first}").json()["data"]
    assert compliance["isCompliant"] is False
    assert compliance["onboardingStatus"] == "DENIED_IDENTITY_THEFT"  # from the FORGERY label

    again = decide(browser, second, "identity_doc", decision="resubmit", labels="DOCUMENT_EXPIRED")
    assert again.status_code == 303
    step = step_of(partner, "applicant-4")
    assert (step["reviewAnswer"], step["reviewRejectType"], step["rejectLabels"]) == (
        "RED",
        "RETRY",
        ["DOCUMENT_EXPIRED"],
    )
    rejected_events = events(database, "applicant.rejected")
    assert [e.actor_type for e in rejected_events] == ["operator", "operator"]
    (reviewed,) = events(database, "applicantReviewed")  # the FINAL one decides its run
    assert (reviewed.actor_type, reviewed.payload["reviewRejectType"]) == ("operator", "FINAL")


# Panels and documents -------------------------------------------------------------------


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 20), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x0131] = "secret-software"  # Software
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_customer_page_shows_the_domain_panels_and_documents_inline(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="reviewer")
    customer_id = awaiting_applicant(partner, "applicant-5")
    photo = partner.post(
        f"/v1/clients/{customer_id}/documents",
        data={"documentType": "ID_CARD", "name": "ID front"},
        files={"file": ("front.jpg", jpeg_with_exif(), "image/jpeg")},
    )
    assert photo.status_code == 200, photo.text
    pdf = partner.post(
        f"/v1/clients/{customer_id}/documents",
        data={"documentType": "FATCA_FORM", "name": "W-9"},
        files={"file": ("w9.pdf", pdf_bytes(), "application/pdf")},
    )
    assert pdf.status_code == 200, pdf.text
    login(browser)
    page = browser.get(f"/console/customers/{customer_id}")
    assert page.status_code == 200
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    for panel in ("steps-table", "compliance-state", "risk-level", "documents", "identifiers"):
        assert f'id="{panel}"' in page.text
    assert "not compliant" in page.text and "failed-checks" in page.text
    sources = re.findall(r'src="(/console/customers/[^"]+/content)"', page.text)
    assert len(sources) == 2

    shown = [browser.get(s) for s in sources]
    image = next(r for r in shown if r.headers["content-type"] == "image/jpeg")
    assert image.status_code == 200
    assert image.headers["content-disposition"] == "inline"
    assert "frame-ancestors 'self'" in image.headers["content-security-policy"]
    decoded = Image.open(io.BytesIO(image.content))
    assert dict(decoded.getexif()) == {}
    assert b"SpyCam" not in image.content and b"secret-software" not in image.content
    assert decoded.size == (20, 40)  # turned upright from the EXIF orientation
    document = next(r for r in shown if r.headers["content-type"] == "application/pdf")
    assert document.content == pdf_bytes()
    assert document.headers["x-frame-options"] == "SAMEORIGIN"

    # Without a session, nothing is served.
    with TestClient(browser.app, follow_redirects=False) as stranger:
        assert stranger.get(sources[0]).status_code == 303


def test_recalculating_risk_is_done_by_the_operator(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    ada = make_operator(role="reviewer")
    customer_id = awaiting_applicant(partner, "applicant-6")
    login(browser)
    page = f"/console/customers/{customer_id}"
    response = post_form(browser, f"{page}/risk/recalculate", {}, page)
    assert response.status_code == 303
    history = partner.get(f"/v1/customers/{customer_id}/risk-profile/history").json()
    newest = history["data"][0] if "data" in history else history["items"][0]
    assert (newest["actor_type"], newest["actor_id"]) == ("operator", ada)


def test_business_page_shows_parties_and_ubos(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="viewer")
    business = partner.post(
        "/v1/customers",
        json={
            "client_id": "acme-gmbh",
            "type": "business",
            "company_name": "Acme GmbH",
            "registration_number": "HRB 1234",
            "incorporation_country": "DE",
        },
    )
    assert business.status_code == 201, business.text
    business_id = business.json()["id"]
    party = partner.post(
        f"/v1/customers/{business_id}/organization/parties",
        json={
            "type": "person",
            "first_name": "Grace",
            "last_name": "Hopper",
            "roles": ["shareholder"],
            "ownership_percentage": 60,
        },
    )
    assert party.status_code == 201, party.text
    login(browser)
    page = browser.get(f"/console/customers/{business_id}")
    assert page.status_code == 200
    ubos = page.text[page.text.index('id="ubos"') :]
    assert "Grace Hopper" in ubos and "60" in ubos


# Dashboard ------------------------------------------------------------------------------


def test_dashboard_counts_what_needs_a_human(
    browser: TestClient,  # noqa: F811
    partner: Api,
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="viewer")
    waiting = awaiting_applicant(partner, "applicant-d1")
    awaiting_applicant(partner, "applicant-d2", operator_review=False)
    soon = (date.today() + timedelta(days=10)).isoformat()
    later = (date.today() + timedelta(days=90)).isoformat()
    for name, expiry in (("Passport soon", soon), ("Passport later", later)):
        uploaded = partner.post(
            f"/v1/clients/{waiting}/documents",
            data={"documentType": "PASSPORT", "name": name, "expiryDate": expiry},
            files={"file": ("p.pdf", pdf_bytes(), "application/pdf")},
        )
        assert uploaded.status_code == 200, uploaded.text
    login(browser)
    page = browser.get("/console/dashboard").text
    assert re.search(r'id="awaiting-count">1<', page)
    assert re.search(r'id="expiring-documents-count">1<', page)
    expiring = page[page.index('id="expiring-documents"') :]
    assert "Passport soon" in expiring and "Passport later" not in expiring
    assert re.search(r'id="expiring-checks-count">0<', page)
    totals = dict(re.findall(r'class="chart-total" data-state="([^"]+)">(\d+)<', page))
    assert sum(int(v) for v in totals.values()) == 2
    assert totals["not compliant"] == "2"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"a": {"LOW": 0, "HIGH": 0}}, [("a", 0, [])]),
        (
            {"a": {"LOW": 1, "HIGH": 3}, "b": {"LOW": 2, "HIGH": 0}},
            [
                ("a", 4, [("LOW", 0.0, 75.0), ("HIGH", 75.0, 225.0)]),
                ("b", 2, [("LOW", 0.0, 150.0)]),
            ],
        ),
    ],
)
def test_chart_geometry_scales_the_longest_bar_to_full_width(
    table: dict[str, dict[str, int]],
    expected: list[tuple[str, int, list[tuple[str, float, float]]]],
) -> None:
    bars = overview.stacked_bars(table)
    assert [(s, t, [(g.level, g.x, g.width) for g in segs]) for s, t, segs in bars] == expected
