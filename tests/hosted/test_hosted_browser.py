"""The hosted flow in a real browser at a phone's size: Debian's Chromium,
driven by Playwright, against a real ``kycd serve`` on 127.0.0.1.

Screenshots are saved under ``test-artifacts/hosted/``.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hosted_flow import PERSONAL, passport_mrz, pdf
from hosted_images import document_image
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import update

from factories import customer_payload
from kycd.db import Database, utcnow
from kycd.migrate import upgrade
from kycd.tenancy.scopes import ALL_SCOPES
from kycd.tenancy.service import issue_credential
from kycd.verification.models import VerificationSession

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "hosted"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium "
        "(apt-get install chromium); .ci/run installs it",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, base_url: str, bearer: str, database_url: str, files: Path) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {bearer}"}
        self.database_url = database_url
        self.files = files

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, self.base_url + path, headers=self.headers, timeout=30, **kwargs
        )

    def start(self, **customer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        created = self.api("POST", "/v1/customers", json=customer_payload(**customer))
        assert created.status_code == 201, created.text
        session = self.api("POST", "/v1/sessions", json={"customer_id": created.json()["id"]})
        assert session.status_code == 201, session.text
        return created.json(), session.json()

    def steps(self, client_id: str) -> dict[str, dict[str, Any]]:
        body = self.api("GET", f"/v1/applicants/{client_id}/steps").json()
        return {s["kind"]: s for s in body["steps"]}

    def picture(self, name: str, seed: int, **kwargs: Any) -> str:
        """A real image file on disk, as a phone's camera would hand it over."""
        path = self.files / name
        path.write_bytes(document_image(seed, **kwargs))
        return str(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("hosted-browser")
    files = tmp_path_factory.mktemp("hosted-files")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env["KYCD_DATA_DIR"] = str(data_dir)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env["KYCD_PUBLIC_BASE_URL"] = base_url
    database_url = f"sqlite:///{data_dir / 'kycd.sqlite3'}"
    upgrade(database_url)
    server_secret = secrets.token_hex(32)
    (data_dir / "server.secret").write_text(server_secret)
    database = Database(database_url)
    with database.transaction() as db:
        credential = issue_credential(
            db, server_secret.encode(), tenant_name="acme", environment="sandbox", scopes=ALL_SCOPES
        )
    database.dispose()
    process = subprocess.Popen(
        [sys.executable, "-m", "kycd.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"kycd serve did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.1)
        yield Server(base_url, credential.bearer_token, database_url, files)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _phone(chromium: Any, locale: str = "en-GB") -> Any:
    context = chromium.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale=locale
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = _phone(chromium)
    yield context.new_page()
    context.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def consent_by_keyboard(page: Any) -> None:
    page.get_by_label("I have read the privacy notice").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/questionnaire")  # the first step, right after consenting


def fill_personal_details(page: Any) -> None:
    for field in ("first_name", "last_name", "occupation", "email", "phone"):
        page.locator(f"#{field}").fill(PERSONAL[field])
    page.get_by_label("Date of birth").fill(PERSONAL["date_of_birth"])
    page.get_by_label("Nationality").select_option("DE")
    page.get_by_label("Country of residence").select_option("DE")
    page.get_by_label("Country where you pay taxes").select_option("DE")
    page.get_by_label("Main source of your money").select_option("SALARY")
    page.get_by_label("Street and house number").fill(PERSONAL["address_line1"])
    page.get_by_label("Postal code").fill(PERSONAL["address_postal_code"])
    page.get_by_label("City").fill(PERSONAL["address_city"])
    page.locator("#address_country").select_option("DE")
    page.get_by_role("button", name="Send").click()


def fill_identity_document(page: Any, front: str, *, expiry: str = "2031-01-01") -> None:
    page.get_by_label("Type of document").select_option("PASSPORT")
    page.get_by_label("Issuing country").select_option("DE")
    page.get_by_label("Document number").fill("C01X00T47")
    page.get_by_label("Valid until").fill(expiry)
    page.get_by_label("Machine-readable zone").fill(passport_mrz())
    page.get_by_label("Front side").set_input_files(front)
    page.get_by_role("button", name="Send").click()


def test_an_applicant_completes_the_whole_flow_on_a_phone(page: Any, server: Server) -> None:
    customer, session = server.start(
        first_name="Erika", last_name="Mustermann", date_of_birth="1964-08-12"
    )
    page.goto(session["verification_url"])
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    screenshot(page, "01-consent")
    consent_by_keyboard(page)
    assert page.get_by_label("First name(s)").input_value() == "Erika"  # from the profile
    fill_personal_details(page)

    page.wait_for_url(session["verification_url"])
    expect(page.locator('[data-page="questionnaire"]')).to_have_attribute("data-state", "done")
    screenshot(page, "02-overview")
    page.get_by_role("link", name="Start: Identity document").click()
    assert page.get_by_label("Front side").get_attribute("capture") == "environment"
    fill_identity_document(page, server.picture("passport.jpg", 101))

    page.get_by_role("link", name="Start: Photo of yourself").click()
    assert page.get_by_label("Photo of your face").get_attribute("capture") == "user"
    page.get_by_label("Photo of your face").set_input_files(
        server.picture("selfie.jpg", 102, size=(720, 960))
    )
    page.get_by_role("button", name="Send").click()

    page.get_by_role("link", name="Start: Proof of address").click()
    page.get_by_label("Type of document").select_option("UTILITY_BILL")
    bill = server.files / "bill.pdf"
    bill.write_bytes(pdf(103)[1])
    page.get_by_label("Document (photo or PDF)").set_input_files(str(bill))
    page.get_by_role("button", name="Send").click()

    expect(page.locator("#all-done")).to_be_visible()
    screenshot(page, "03-all-done")
    steps = server.steps(customer["client_id"])
    assert steps["questionnaire"]["reviewAnswer"] == "GREEN"
    for kind in ("identity_doc", "selfie", "liveness", "poa"):
        assert steps[kind]["reviewStatus"] == "awaitingOperatorReview", kind
    status = server.api("GET", f"/v1/compliance/status/{customer['id']}").json()["data"]
    assert status["nextAction"] == "WAIT"
    assert status["onboardingStatus"] == "PROCESSING"


def test_a_blurry_or_expired_document_is_caught(page: Any, server: Server) -> None:
    customer, session = server.start()
    page.goto(session["verification_url"])
    consent_by_keyboard(page)
    page.goto(session["verification_url"] + "/identity_doc")
    fill_identity_document(page, server.picture("blurry.jpg", 201, blur=5), expiry="2021-03-01")
    reasons = page.locator("#retry-reasons")
    expect(reasons).to_contain_text("The photo is blurry")
    expect(reasons).to_contain_text("The document has expired")
    screenshot(page, "04-retry-reasons")
    step = server.steps(customer["client_id"])["identity_doc"]
    assert step["reviewRejectType"] == "RETRY"
    assert set(step["rejectLabels"]) >= {"UNSATISFACTORY_PHOTOS", "EXPIRATION_DATE"}


def test_a_retry_reopens_one_step(page: Any, server: Server) -> None:
    customer, session = server.start(
        first_name="Erika", last_name="Mustermann", date_of_birth="1964-08-12"
    )
    page.goto(session["verification_url"])
    consent_by_keyboard(page)
    fill_personal_details(page)
    page.goto(session["verification_url"] + "/identity_doc")
    fill_identity_document(page, server.picture("passport-2.jpg", 301))
    decided = server.api(
        "POST",
        f"/v1/sessions/{session['id']}/steps/identity_doc/decision",
        json={
            "review_answer": "RED",
            "reject_type": "RETRY",
            "reject_labels": ["DOCUMENT_PAGE_MISSING"],
        },
    )
    assert decided.status_code == 200, decided.text
    page.reload()
    expect(page.locator('[data-page="identity_doc"]')).to_have_attribute("data-state", "retry")
    expect(page.locator('[data-page="questionnaire"]')).to_have_attribute("data-state", "done")
    expect(page.locator("#retry-reasons")).to_contain_text(
        "A page or side of the document is missing"
    )
    screenshot(page, "05-operator-retry")
    page.get_by_role("link", name="Try again: Identity document").click()
    fill_identity_document(page, server.picture("passport-3.jpg", 302))
    expect(page.locator('[data-page="identity_doc"]')).to_have_attribute("data-state", "waiting")
    steps = server.steps(customer["client_id"])
    assert steps["identity_doc"]["reviewStatus"] == "awaitingOperatorReview"
    assert steps["questionnaire"]["reviewAnswer"] == "GREEN"


def test_expired_or_unknown_links_show_a_clear_page_and_no_data(
    chromium: Any, server: Server
) -> None:
    _, session = server.start(first_name="Secretname", last_name="Hidden")
    context = _phone(chromium, locale="de-DE")
    page = context.new_page()
    try:
        unknown = page.goto(server.base_url + "/verify/" + secrets.token_urlsafe(32))
        assert unknown is not None and unknown.status == 404
        expect(page.get_by_role("heading", name="Dieser Link ist ungültig")).to_be_visible()
        screenshot(page, "06-unknown-link-de")

        database = Database(server.database_url)
        with database.transaction() as db:
            db.execute(
                update(VerificationSession)
                .where(VerificationSession.id == session["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        database.dispose()
        expired = page.goto(session["verification_url"] + "?lang=en")
        assert expired is not None and expired.status == 410
        expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
        content = page.content()
        assert "Secretname" not in content and "Hidden" not in content
        assert page.locator("form").count() == 0
        screenshot(page, "07-expired-link")
    finally:
        context.close()
