"""The console in a real browser: Debian's Chromium, driven by Playwright,
against a real ``kycd serve`` on 127.0.0.1 with its own data directory.

Screenshots of the main pages are saved under ``test-artifacts/console/``.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from kycd.console.service import create_operator_for_tenant
from kycd.db import Database
from kycd.migrate import upgrade
from kycd.tenancy.scopes import ALL_SCOPES
from kycd.tenancy.service import issue_credential

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
ADMIN = ("ada@acme.test", "admin password 1")
VIEWER = ("vic@acme.test", "viewer password 1")
LOCKED = ("lou@acme.test", "locked password 1")
REVIEWER = ("rey@acme.test", "reviewer password 1")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium "
        "(apt-get install chromium); .ci/run installs it",
    ),
]


def _kycd(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "kycd.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, base_url: str, credential: dict[str, Any]) -> None:
        self.base_url = base_url
        self.credential = credential

    def api(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential['bearer_token']}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("console-browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env["KYCD_DATA_DIR"] = str(data_dir)
    port = _free_port()
    env["KYCD_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    # The admin is made by the CLI, as a deployment would; the rest in-process,
    # which saves a Python start-up per account.
    upgrade(f"sqlite:///{data_dir / 'kycd.sqlite3'}")
    _kycd(
        env,
        "operators",
        "create",
        "--tenant",
        "acme",
        "--email",
        ADMIN[0],
        "--role",
        "admin",
        "--password-stdin",
        stdin=ADMIN[1] + "\n",
    )
    server_secret = secrets.token_hex(32)
    (data_dir / "server.secret").write_text(server_secret)
    database = Database(f"sqlite:///{data_dir / 'kycd.sqlite3'}")
    with database.transaction() as db:
        for (email, password), role in (
            (VIEWER, "viewer"),
            (LOCKED, "reviewer"),
            (REVIEWER, "reviewer"),
        ):
            create_operator_for_tenant(
                db, tenant_name="acme", email=email, role=role, password=password
            )
        credential = issue_credential(
            db, server_secret.encode(), tenant_name="acme", environment="sandbox", scopes=ALL_SCOPES
        ).as_dict()
    database.dispose()
    process = subprocess.Popen(
        [sys.executable, "-m", "kycd.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
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
        srv = Server(base_url, credential)
        for last_name in ("Hopper", "Turing", "Lovelace"):
            created = srv.api(
                "POST",
                "/v1/customers",
                srv.bearer,
                json={
                    "client_id": f"user-{last_name.lower()}",
                    "first_name": "Grace" if last_name == "Hopper" else "Alan",
                    "last_name": last_name,
                    "nationality": "US",
                    "email": f"{last_name.lower()}@example.com",
                    "addresses": [
                        {
                            "line1": "1 Navy Way",
                            "city": "Arlington",
                            "country": "US",
                            "is_primary": True,
                        }
                    ],
                },
            )
            assert created.status_code == 201, created.text
        hopper = srv.api("GET", "/v1/customers?client_id=user-hopper", srv.bearer).json()["data"][0]
        srv.api("POST", "/v1/sessions", srv.bearer, json={"customer_id": hopper["id"]})
        yield srv
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


@pytest.fixture
def page(chromium: Any, server: Server) -> Iterator[Any]:
    context = chromium.new_context(
        base_url=server.base_url, viewport={"width": 1360, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Destructive forms ask for confirmation; the operator in these tests says yes.
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(
    page: Any, email: str, password: str, environment: str = "sandbox", *, navigate: bool = True
) -> None:
    if navigate:
        page.goto("/console/login")
    page.get_by_label("Organisation").fill("acme")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Environment").select_option(environment)
    page.get_by_role("button", name="Log in").click()


def test_login_shows_the_dashboard(page: Any) -> None:
    page.goto("/console/customers")
    assert "/console/login" in page.url  # not logged in yet
    screenshot(page, "01-login")
    log_in(page, *ADMIN, navigate=False)  # the login page remembers where we were going
    page.wait_for_url("**/console/customers")
    page.get_by_role("link", name="Dashboard").click()
    assert page.locator("#customer-total").inner_text().startswith("3")
    assert page.locator('td[data-status="pending"]').inner_text() == "3"
    screenshot(page, "02-dashboard")


def test_wrong_password_is_throttled(page: Any) -> None:
    email, password = LOCKED
    for _ in range(5):
        log_in(page, email, "not the password")
        assert "Wrong organisation, e-mail or password" in page.locator("#login-error").inner_text()
    log_in(page, email, password)  # right password, but the account is locked now
    assert "Too many failed attempts" in page.locator("#login-error").inner_text()
    assert "/console/login" in page.url
    screenshot(page, "03-login-throttled")


def test_search_and_open_a_customer(page: Any, server: Server) -> None:
    log_in(page, *ADMIN)
    page.get_by_role("link", name="Customers").click()
    page.wait_for_url("**/console/customers")  # and its script, which owns the shortcut
    page.keyboard.press("/")  # the shortcut focuses the search box
    page.keyboard.type("hopper")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*q=hopper.*"))
    rows = page.locator("#customer-table tbody tr")
    assert rows.count() == 1
    screenshot(page, "04-customers-search")
    page.get_by_role("link", name="Grace Hopper").click()
    assert page.locator("#client-id").inner_text() == "user-hopper"
    assert "1 Navy Way" in page.locator("address").first.inner_text()
    expect(page.get_by_role("heading", name="Verification sessions")).to_be_visible()
    timeline = page.locator("#timeline-list").inner_text()
    assert "applicant.created" in timeline and "enrollment.created" in timeline
    screenshot(page, "05-customer")


def _issued(page: Any) -> dict[str, str]:
    return {
        "X-Api-Key": page.locator("#new-api-key").inner_text(),
        "X-Api-Secret": page.locator("#new-api-secret").inner_text(),
    }


def test_create_and_rotate_a_credential(page: Any, server: Server) -> None:
    log_in(page, *ADMIN)
    page.get_by_role("link", name="API credentials").click()
    page.get_by_label("Name").fill("browser-made")
    page.get_by_label("kyc:update").check()
    page.get_by_role("button", name="Create credential").click()
    first = _issued(page)
    assert server.api("GET", "/v1/customers", first).status_code == 200
    screenshot(page, "06-credential-created")

    page.get_by_role("button", name=f"Rotate {first['X-Api-Key']}").click()
    page.wait_for_selector("text=Credential rotated")
    second = _issued(page)
    assert second["X-Api-Key"] != first["X-Api-Key"]
    assert server.api("GET", "/v1/customers", first).status_code == 401
    assert server.api("GET", "/v1/customers", second).status_code == 200
    # The list shows the old pair revoked and the new one active.
    old_row = page.locator(f'tr[data-api-key="{first["X-Api-Key"]}"]')
    assert "revoked" in old_row.inner_text()
    screenshot(page, "07-credential-rotated")

    page.get_by_role("button", name=f"Revoke {second['X-Api-Key']}").click()
    page.wait_for_url("**/console/credentials")
    assert server.api("GET", "/v1/customers", second).status_code == 401


def test_a_forged_form_is_refused(page: Any, server: Server) -> None:
    log_in(page, *ADMIN)
    page.goto("/console/credentials")
    before = page.locator("#credential-table tbody tr").count()
    # What a forged form would carry: everything but the session's CSRF token.
    page.eval_on_selector(
        'form[action="/console/credentials"] input[name="csrf_token"]',
        "input => { input.value = 'forged'; }",
    )
    page.get_by_role("button", name="Create credential").click()
    assert "did not come from this console" in page.locator("#error-message").inner_text()
    screenshot(page, "08-csrf-refused")
    page.goto("/console/credentials")
    assert page.locator("#credential-table tbody tr").count() == before


def test_operators_page_and_a_viewer_sees_no_admin_pages(
    page: Any, chromium: Any, server: Server
) -> None:
    log_in(page, *ADMIN)
    page.get_by_role("link", name="Operators").click()
    page.get_by_label("E-mail").fill("new.viewer@acme.test")
    page.get_by_label("Initial password").fill("a good long password")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add operator").click()
    expect(page.locator('tr[data-email="new.viewer@acme.test"]')).to_be_visible()
    screenshot(page, "09-operators")
    page.get_by_role("link", name="Audit log").click()
    audit = page.locator("#audit-table").inner_text()
    assert "admin.operator_created" in audit and "admin.login" in audit
    screenshot(page, "10-audit")

    log_in(page, *VIEWER)
    page.wait_for_url("**/console/dashboard")
    assert page.get_by_role("link", name="API credentials").count() == 0
    page.get_by_role("link", name=VIEWER[0]).click()  # the account page
    expect(page.get_by_label("Current password")).to_be_visible()
    screenshot(page, "11-account")
    response = page.goto("/console/credentials")
    assert response is not None and response.status == 403


def test_environment_switch_and_logout(page: Any) -> None:
    log_in(page, *ADMIN, environment="production")
    assert "production" in page.locator(".env-banner").inner_text()
    assert page.locator("#customer-total").inner_text().startswith("0")
    page.locator("#environment").select_option("sandbox")  # submits on change
    expect(page.locator(".env-banner")).to_have_count(0)
    expect(page.locator("#customer-total")).to_contain_text("3")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login**")
    page.goto("/console/dashboard")
    assert "/console/login" in page.url


# Phase 2: the review queue and decisions (these add customers, so they run last).

QUEUE_LEVEL = {"ttl_hours": 24, "steps": [{"kind": "identity_doc"}, {"kind": "questionnaire"}]}


def _awaiting_operator(server: Server, client_id: str, first_name: str) -> str:
    created = server.api(
        "POST",
        "/v1/customers",
        server.bearer,
        json={"client_id": client_id, "first_name": first_name, "last_name": "Queue"},
    )
    assert created.status_code == 201, created.text
    run = server.api(
        "POST", "/v1/sessions", server.bearer, json={"client_id": client_id, "level_name": "TWO"}
    )
    assert run.status_code == 201, run.text
    base = f"/v1/sessions/{run.json()['id']}/steps/identity_doc"
    submitted = server.api("POST", f"{base}/submit", server.bearer, json={"actor_type": "sdk"})
    assert submitted.status_code == 200, submitted.text
    assert server.api("POST", f"{base}/operator-review", server.bearer).status_code == 200
    return str(created.json()["id"])


def _identity_doc(server: Server, client_id: str) -> dict[str, Any]:
    steps = server.api("GET", f"/v1/applicants/{client_id}/steps", server.bearer).json()
    return next(dict(s) for s in steps["steps"] if s["kind"] == "identity_doc")


def test_work_the_queue_approve_one_step_and_reject_another(page: Any, server: Server) -> None:
    level = server.api("PUT", "/v1/levels/TWO", server.bearer, json=QUEUE_LEVEL)
    assert level.status_code == 200, level.text
    amy_id = _awaiting_operator(server, "queue-amy", "Amy")
    bert = _awaiting_operator(server, "queue-bert", "Bert")
    photo = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 90, 160)).save(photo, format="JPEG")
    uploaded = server.api(
        "POST",
        f"/v1/clients/{amy_id}/documents",
        server.bearer,
        data={"documentType": "ID_CARD", "name": "ID card front"},
        files={"file": ("front.jpg", photo.getvalue(), "image/jpeg")},
    )
    assert uploaded.status_code == 200, uploaded.text

    log_in(page, *REVIEWER)
    page.get_by_role("link", name="Review queue").click()
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(2)
    assert rows.first.get_attribute("data-client-id") == "queue-amy"  # oldest first
    amy = page.locator('tr[data-client-id="queue-amy"]')
    amy.get_by_role("button", name="Assign to me").click()
    expect(amy.locator(".assignee")).to_have_text("you")
    page.get_by_label("Assigned").select_option("me")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    screenshot(page, "08-review-queue")

    amy.get_by_role("link", name="Review").click()
    page.wait_for_url("**/console/customers/**")
    expect(page.locator("#steps-table")).to_be_visible()
    expect(page.locator("#compliance-state")).to_have_text("not compliant")
    preview = page.get_by_role("img", name="ID card front")
    expect(preview).to_be_visible()
    # Decoded by the browser under the page's CSP: the re-encoded image arrived.
    assert preview.evaluate("img => img.complete && img.naturalWidth") == 120
    screenshot(page, "09-applicant-review")
    page.get_by_role("form", name="Decide identity_doc").get_by_role(
        "button", name="Approve"
    ).click()
    expect(page.locator('tr[data-kind="identity_doc"]')).to_have_attribute(
        "data-status", "completed"
    )
    step = _identity_doc(server, "queue-amy")
    assert (step["reviewStatus"], step["reviewAnswer"]) == ("completed", "GREEN")
    history = server.api("GET", "/v1/applicants/queue-amy/review-history", server.bearer).json()
    assert "applicant.verified" in str(history)

    page.get_by_role("link", name="Review queue").click()
    expect(rows).to_have_count(1)
    page.locator('tr[data-client-id="queue-bert"]').get_by_role("link", name="Review").click()
    decision = page.get_by_role("form", name="Decide identity_doc")
    decision.get_by_label("Reject labels").fill("FORGERY, BAD_QUALITY_PICTURE")
    decision.get_by_label("Reject type").select_option("FINAL")
    decision.get_by_role("button", name="Reject").click()
    expect(page.locator('tr[data-kind="identity_doc"]')).to_have_attribute(
        "data-status", "completed"
    )
    screenshot(page, "10-applicant-rejected")
    step = _identity_doc(server, "queue-bert")
    assert (step["reviewAnswer"], step["reviewRejectType"], step["rejectLabels"]) == (
        "RED",
        "FINAL",
        ["FORGERY", "BAD_QUALITY_PICTURE"],
    )
    status = server.api("GET", f"/v1/compliance/status/{bert}", server.bearer).json()["data"]
    assert status["isCompliant"] is False
    assert status["onboardingStatus"] == "DENIED_IDENTITY_THEFT"
    page.get_by_role("link", name="Review queue").click()
    expect(page.locator("#queue-empty")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#awaiting-count")).to_have_text("0")
    expect(page.locator('.chart-total[data-state="not compliant"]')).to_be_visible()
    screenshot(page, "11-dashboard-after-review")


WATCHLIST = (
    "id,schema,name,aliases,birth_date,nationality,country,identifiers,topics\n"
    "own-1,Person,Ivan Petrov,Иван Петров,1970-03-04,ru,,,sanction\n"
)


def test_triage_a_screening_hit(page: Any, server: Server) -> None:
    imported = server.api(
        "POST",
        "/v1/screening/watchlists/own/imports",
        server.bearer,
        data={"format": "csv"},
        files={"file": ("list.csv", WATCHLIST.encode(), "application/octet-stream")},
    )
    assert imported.status_code == 201, imported.text
    created = server.api(
        "POST",
        "/v1/customers",
        server.bearer,
        json={
            "client_id": "ivan",
            "first_name": "Ivan",
            "last_name": "Petrov",
            "date_of_birth": "1970-03-04",
            "nationality": "RU",
        },
    )
    assert created.status_code == 201, created.text
    ivan = created.json()["id"]
    monitored = server.api("POST", f"/v1/customers/{ivan}/monitor", server.bearer)
    assert monitored.status_code == 200, monitored.text
    assert len(monitored.json()["hits"]) == 1

    log_in(page, *REVIEWER)
    expect(page.locator("#open-hits-count")).to_have_text("1")
    page.get_by_role("link", name="Screening").click()
    page.locator('tr[data-client-id="ivan"]').get_by_role("link", name="Triage").click()
    expect(page.locator("#entity-facts")).to_contain_text("Иван Петров")
    expect(page.locator("#explanation-summary")).to_contain_text("birth_date supports")
    screenshot(page, "12-screening-triage")
    page.get_by_label("Note").fill("Same person: name, date of birth and nationality agree")
    page.get_by_role("button", name="Confirm match").click()
    expect(page.locator("#hit-status")).to_have_text("confirmed")
    hits = server.api("GET", f"/v1/customers/{ivan}/screening-hits", server.bearer).json()
    assert hits["data"][0]["status"] == "confirmed"
    assert hits["data"][0]["review_note"].startswith("Same person")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#open-hits-count")).to_have_text("0")
