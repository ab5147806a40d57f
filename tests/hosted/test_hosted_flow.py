"""The hosted flow through HTTP, on both databases: an applicant with nothing
but the verification URL, and the partner's API watching."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from hosted_flow import PERSONAL, identity_form, jpeg, passport_mrz, pdf, start_run
from PIL import Image
from sqlalchemy import select, update

from kycd.db import Database, utcnow
from kycd.events.models import Event
from kycd.verification.models import VerificationSession


def _client(api: Any) -> Any:
    """The applicant's browser: the same app, no credential at all."""
    client = api.client
    client.headers.pop("Authorization", None)
    return client


def _steps(api: Any, client_id: str) -> dict[str, dict[str, Any]]:
    body = api.get(f"/v1/applicants/{client_id}/steps").json()
    return {s["kind"]: s for s in body["steps"]}


def _consent(client: Any, path: str) -> None:
    response = client.post(f"{path}/consent", data={"agree": "yes"})
    assert response.status_code == 200, response.text


def _complete(client: Any, path: str, seed: int = 1) -> None:
    _consent(client, path)
    assert client.post(f"{path}/questionnaire", data=PERSONAL).status_code == 200
    response = client.post(
        f"{path}/identity_doc",
        data=identity_form(),
        files={"front": jpeg(seed, exif_gps=True)},
    )
    assert response.status_code == 200, response.text
    response = client.post(f"{path}/selfie", files={"selfie": jpeg(seed + 1000, size=(720, 960))})
    assert response.status_code == 200, response.text
    response = client.post(
        f"{path}/poa", data={"document_type": "UTILITY_BILL"}, files={"poa_file": pdf(seed)}
    )
    assert response.status_code == 200, response.text


def test_an_applicant_completes_the_flow(api: Any, database: Database) -> None:
    customer, session, path = start_run(
        api, first_name="Erika", last_name="Mustermann", date_of_birth="1964-08-12"
    )
    client = _client(api)
    first = client.get(path)
    assert first.status_code == 200
    assert 'id="privacy-notice"' in first.text
    assert first.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
    # Before consent, no step can be handed in.
    refused = client.post(f"{path}/questionnaire", data=PERSONAL)
    assert refused.status_code == 409

    _complete(client, path)
    overview = client.get(path)
    assert 'id="all-done"' in overview.text

    headers = api.headers
    steps = {
        s["kind"]: s
        for s in api.client.get(
            f"/v1/applicants/{customer['client_id']}/steps", headers=headers
        ).json()["steps"]
    }
    assert steps["questionnaire"]["reviewAnswer"] == "GREEN"
    for kind in ("identity_doc", "selfie", "liveness"):
        assert steps[kind]["reviewStatus"] == "awaitingOperatorReview", kind
    assert steps["poa"]["reviewStatus"] == "awaitingOperatorReview"

    history = api.client.get(
        f"/v1/applicants/{customer['client_id']}/review-history?limit=200", headers=headers
    ).json()["items"]
    submitted = [e for e in history if e["eventType"] == "enrollment.submitted"]
    assert len(submitted) == 5 and {e["actorType"] for e in submitted} == {"sdk"}
    assert [e["actorType"] for e in history if e["eventType"] == "enrollment.completed"] == ["sdk"]

    status = api.client.get(f"/v1/compliance/status/{customer['id']}", headers=headers).json()
    assert status["data"]["nextAction"] == "WAIT"  # off COMPLETE_SDK_FLOW: operators decide now
    sdk = next(c for c in status["data"]["checks"] if c["type"] == "SDK_VERIFICATION_COMPLETED")
    assert sdk["passed"] is True

    # The profile holds what the applicant typed, as the Customers API stored it.
    profile = api.client.get(f"/v1/customers/{customer['id']}", headers=headers).json()
    assert profile["phone"] == "+4915112345678"
    assert profile["addresses"][0]["city"] == "Köln"
    assert profile["source_of_funds"] == "SALARY"

    # The passport photo is stored re-encoded, without its GPS position.
    documents = api.client.get(f"/v1/clients/{customer['id']}/documents", headers=headers).json()
    kinds = sorted(d["documentType"] for d in documents)
    assert kinds == ["PASSPORT", "SELFIE", "UTILITY_BILL"]
    passport = next(d for d in documents if d["documentType"] == "PASSPORT")
    assert passport["type"] == "image/jpeg" and len(passport["sha256"]) == 64
    assert passport["expiryDate"] == "2031-01-01" and passport["issuingCountry"] == "DE"
    content = api.client.get(
        f"/v1/clients/{customer['id']}/documents/{passport['id']}/content", headers=headers
    ).content
    with Image.open(io.BytesIO(content)) as stored:
        assert not stored.getexif()

    checks = api.client.get(
        f"/v1/sessions/{session['id']}/automated-checks", headers=headers
    ).json()["data"]
    by_check = {(c["step_kind"], c["check"], c["subject"]): c for c in checks}
    assert by_check[("identity_doc", "mrz_check_digits", None)]["outcome"] == "pass"
    assert by_check[("identity_doc", "sharpness", "front")]["outcome"] == "pass"
    assert by_check[("identity_doc", "document_authenticity", None)]["outcome"] == "review"
    assert by_check[("selfie", "face_match", None)]["outcome"] == "review"
    assert by_check[("liveness", "liveness", None)]["outcome"] == "review"
    assert by_check[("questionnaire", "applicant_age", None)]["outcome"] == "pass"
    assert by_check[("identity_doc", "sharpness", "front")]["document_id"] == passport["id"]


def test_a_blurry_document_is_rejected_for_a_retry_in_plain_words(api: Any) -> None:
    customer, _, path = start_run(api)
    client = _client(api)
    _consent(client, path)
    client.post(
        f"{path}/identity_doc",
        data=identity_form(mrz=""),
        files={"front": jpeg(2, blur=5)},
    )
    step = _steps(api, customer["client_id"])["identity_doc"]
    assert (step["reviewAnswer"], step["reviewRejectType"]) == ("RED", "RETRY")
    assert step["rejectLabels"] == ["UNSATISFACTORY_PHOTOS"]
    overview = client.get(path, headers={"Accept-Language": "en"}).text
    assert "The photo is blurry" in overview
    assert 'data-page="identity_doc" data-state="retry"' in overview

    # A sharp photo hands the step in again.
    again = client.post(
        f"{path}/identity_doc", data=identity_form(mrz=""), files={"front": jpeg(3)}
    )
    assert again.status_code == 200
    step = _steps(api, customer["client_id"])["identity_doc"]
    assert step["reviewStatus"] == "awaitingOperatorReview"


def test_an_expired_document_and_a_wrong_mrz_are_caught(api: Any) -> None:
    customer, _, path = start_run(api)
    client = _client(api)
    _consent(client, path)
    expired = passport_mrz(expiry="200101")
    bad = expired[:-1] + ("1" if expired[-1] != "1" else "2")
    client.post(
        f"{path}/identity_doc",
        data=identity_form(expiry_date="2020-01-01", mrz=bad),
        files={"front": jpeg(4)},
    )
    step = _steps(api, customer["client_id"])["identity_doc"]
    assert step["reviewRejectType"] == "RETRY"
    assert set(step["rejectLabels"]) == {"EXPIRATION_DATE", "ID_INVALID"}
    german = client.get(path, headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    assert '<html lang="de">' in german
    assert "Das Dokument ist abgelaufen" in german


def test_personal_details_are_validated_as_the_api_validates(api: Any) -> None:
    customer, _, path = start_run(api)
    client = _client(api)
    _consent(client, path)
    wrong = {**PERSONAL, "phone": "12345", "date_of_birth": "2999-01-01", "nationality": "XX"}
    response = client.post(f"{path}/questionnaire", data=wrong)
    assert response.status_code == 400
    for field in ("phone", "date_of_birth", "nationality"):
        assert f'id="{field}-error"' in response.text, field
    assert 'aria-invalid="true"' in response.text
    assert _steps(api, customer["client_id"])["questionnaire"]["reviewStatus"] == "pending"

    minor = {**PERSONAL, "date_of_birth": (utcnow().date() - timedelta(days=365 * 16)).isoformat()}
    assert client.post(f"{path}/questionnaire", data=minor).status_code == 200
    step = _steps(api, customer["client_id"])["questionnaire"]
    assert step["rejectLabels"] == ["AGE_REQUIREMENT_MISMATCH"]


def test_names_that_contradict_the_profile_go_to_an_operator(api: Any) -> None:
    customer, _, path = start_run(api, first_name="Grace", last_name="Hopper")
    client = _client(api)
    _consent(client, path)
    client.post(f"{path}/questionnaire", data=PERSONAL)
    step = _steps(api, customer["client_id"])["questionnaire"]
    assert step["reviewStatus"] == "awaitingOperatorReview"
    profile = api.get(f"/v1/customers/{customer['id']}").json()
    assert (profile["first_name"], profile["last_name"]) == ("Grace", "Hopper")
    assert profile["occupation"] == "Engineer"


def test_a_retry_reopens_exactly_the_rejected_step(api: Any) -> None:
    customer, session, path = start_run(
        api, first_name="Erika", last_name="Mustermann", date_of_birth="1964-08-12"
    )
    client = _client(api)
    _complete(client, path, seed=20)
    decided = api.post(
        f"/v1/sessions/{session['id']}/steps/selfie/decision",
        json={"review_answer": "RED", "reject_type": "RETRY", "reject_labels": ["BAD_SELFIE"]},
    )
    assert decided.status_code == 200, decided.text
    overview = client.get(path).text
    assert 'data-page="selfie" data-state="retry"' in overview
    assert 'data-page="identity_doc" data-state="waiting"' in overview
    assert "The photo of your face could not be accepted" in overview
    # The identity document is not open again.
    assert (
        client.post(
            f"{path}/identity_doc", data=identity_form(), files={"front": jpeg(21)}
        ).status_code
        == 409
    )
    assert client.post(f"{path}/selfie", files={"selfie": jpeg(22)}).status_code == 200
    steps = _steps(api, customer["client_id"])
    assert steps["selfie"]["reviewStatus"] == "awaitingOperatorReview"
    assert steps["liveness"]["reviewStatus"] == "awaitingOperatorReview"


def test_the_same_document_at_another_customer_is_flagged_not_denied(api: Any) -> None:
    _first, _, first_path = start_run(api)
    client = _client(api)
    _consent(client, first_path)
    client.post(f"{first_path}/identity_doc", data=identity_form(mrz=""), files={"front": jpeg(30)})
    second, session, second_path = start_run(api)
    _consent(client, second_path)
    client.post(
        f"{second_path}/identity_doc", data=identity_form(mrz=""), files={"front": jpeg(30)}
    )
    step = _steps(api, second["client_id"])["identity_doc"]
    assert step["reviewStatus"] == "awaitingOperatorReview"
    checks = api.get(f"/v1/sessions/{session['id']}/automated-checks").json()["data"]
    flagged = {c["check"]: c for c in checks if c["label"] == "DUPLICATE"}
    assert set(flagged) == {"duplicate_document_number", "duplicate_image"}
    assert "identity theft" in flagged["duplicate_document_number"]["detail"]


def test_uploads_that_are_not_pictures_are_refused_and_not_stored(api: Any) -> None:
    customer, _, path = start_run(api)
    client = _client(api)
    _consent(client, path)
    response = client.post(
        f"{path}/identity_doc",
        data=identity_form(document_type="ID_CARD"),
        files={"front": ("front.jpg", b"<html>not a picture</html>", "image/jpeg")},
    )
    assert response.status_code == 400
    assert 'id="front-error"' in response.text and 'id="back-error"' in response.text
    assert api.get(f"/v1/clients/{customer['id']}/documents").json() == []


def test_unknown_expired_and_replaced_links_show_no_data(api: Any, database: Database) -> None:
    customer, session, path = start_run(api, first_name="Secretname")
    client = _client(api)
    unknown = client.get("/verify/" + "A" * 43)
    assert unknown.status_code == 404
    assert "This link is not valid" in unknown.text
    assert client.get(path).status_code == 200
    assert "Secretname" not in client.get(path).text  # the overview shows no profile data

    with database.transaction() as db:
        db.execute(
            update(VerificationSession)
            .where(VerificationSession.id == session["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    for url in (path, f"{path}/questionnaire"):
        expired = client.get(url)
        assert expired.status_code == 410
        assert "This link has expired" in expired.text
        assert "Secretname" not in expired.text
    posted = client.post(f"{path}/consent", data={"agree": "yes"})
    assert posted.status_code == 410
    with database.transaction() as db:
        consents = db.scalars(select(Event).where(Event.type == "hosted.consent_given")).all()
        assert consents == []

    # A new run replaces the old one: its link stops working, the new one works.
    newer = api.post("/v1/sessions", json={"customer_id": customer["id"]}).json()
    assert client.get(path).status_code == 410
    assert client.get(urlsplit(newer["verification_url"]).path).status_code == 200


def test_a_token_opens_only_its_own_applicant(api: Any) -> None:
    _alice, _, alice_path = start_run(api, first_name="Alice", last_name="Liddell")
    _, _, bob_path = start_run(api, first_name="Bob", last_name="Builder")
    client = _client(api)
    _consent(client, bob_path)
    page = client.get(f"{bob_path}/questionnaire").text
    assert 'value="Bob"' in page and "Alice" not in page
    alice_page = client.get(f"{alice_path}/questionnaire")  # no consent yet: the notice
    assert 'id="privacy-notice"' in alice_page.text and "Bob" not in alice_page.text


def test_a_cross_site_post_is_refused(api: Any) -> None:
    _customer, _, path = start_run(api)
    client = _client(api)
    response = client.post(
        f"{path}/consent", data={"agree": "yes"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert 'id="privacy-notice"' in client.get(path).text  # still not consented


def test_language_switch_is_remembered(api: Any) -> None:
    _, _, path = start_run(api)
    client = _client(api)
    switched = client.get(f"{path}?lang=de")
    assert "Bevor Sie beginnen" in switched.text
    assert "Bevor Sie beginnen" in client.get(path).text  # the cookie remembers
    client.get(f"{path}?lang=en")
    assert "Before you start" in client.get(path).text


def test_oversized_or_unannounced_bodies_are_refused_unread(api: Any, settings: Any) -> None:
    _, _, path = start_run(api)
    client = _client(api)
    too_big = str(2 * settings.max_upload_bytes + 10 * 1024 * 1024)
    response = client.post(
        f"{path}/consent",
        content=b"agree=yes",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": too_big},
    )
    assert response.status_code == 413

    def chunks() -> Any:
        yield b"agree=yes"

    chunked = client.post(
        f"{path}/consent",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 411
    assert 'id="privacy-notice"' in client.get(path).text  # still not consented
