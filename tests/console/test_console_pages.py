"""The console's pages through a real app and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import customer_payload
from kycd.app import create_app
from kycd.console import service
from kycd.console.models import LoginFailure, OperatorSession
from kycd.db import Database, utcnow
from kycd.events.models import Event
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.service import get_or_create_tenant

PASSWORD = "correct horse battery"
TEST_SECRET = b"test-server-secret"


@pytest.fixture
def console_app(settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KYCD_SECRET_KEY", TEST_SECRET.decode())
    return create_app(settings, database)


@pytest.fixture
def browser(console_app: Any) -> Iterator[TestClient]:
    """A cookie-keeping client that does not follow redirects (we assert them)."""
    with TestClient(console_app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def make_operator(database: Database) -> Callable[..., str]:
    def make(tenant: str = "acme", email: str = "ada@acme.test", role: str = "admin") -> str:
        with database.transaction() as db:
            t = get_or_create_tenant(db, tenant)
            ctx = RequestContext(t.id, "production", actor_type="operator", actor_id="test")
            return service.create_operator(db, ctx, email=email, role=role, password=PASSWORD).id

    return make


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(
    client: TestClient,
    *,
    tenant: str = "acme",
    email: str = "ada@acme.test",
    password: str = PASSWORD,
    environment: str = "sandbox",
) -> Any:
    form = client.get("/console/login")
    assert form.status_code == 200
    return client.post(
        "/console/login",
        data={
            "tenant": tenant,
            "email": email,
            "password": password,
            "environment": environment,
            "csrf_token": csrf_of(form.text),
        },
    )


def page_csrf(client: TestClient, path: str = "/console/dashboard") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def events_of(database: Database, prefix: str = "admin.") -> list[Event]:
    with database.session() as db:
        return list(
            db.scalars(select(Event).where(Event.type.like(f"{prefix}%")).order_by(Event.seq))
        )


# Login, cookies, logout -----------------------------------------------------------------


def test_pages_need_a_login(browser: TestClient) -> None:
    response = browser.get("/console/customers")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/customers"


def test_login_sets_a_hardened_cookie_and_records_the_event(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    operator_id = make_operator()
    response = login(browser)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/dashboard"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("kycd_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the TLS test below
    dashboard = browser.get("/console/dashboard")
    assert dashboard.status_code == 200
    assert dashboard.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in dashboard.headers["content-security-policy"]
    login_event = events_of(database)[-1]
    assert (login_event.type, login_event.actor_type, login_event.actor_id) == (
        "admin.login",
        "operator",
        operator_id,
    )


def test_cookie_is_secure_over_tls(console_app: Any, make_operator: Callable[..., str]) -> None:
    make_operator()
    with TestClient(console_app, base_url="https://testserver", follow_redirects=False) as client:
        response = login(client)
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("kycd_console=")
    )
    assert "Secure" in cookie


def test_wrong_password_is_refused_then_throttled(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    make_operator()
    for _ in range(5):
        response = login(browser, password="wrong password!!")
        assert response.status_code == 401
        assert "Wrong organisation, e-mail or password" in response.text
    # The account is locked now, even for the right password.
    throttled = login(browser)
    assert throttled.status_code == 429
    assert "Too many failed attempts" in throttled.text
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60
    reasons = [e.payload["reason"] for e in events_of(database) if e.type == "admin.login_failed"]
    assert reasons == ["invalid_credentials"] * 5 + ["throttled"]
    assert all(e.actor_type == "operator" for e in events_of(database))


def test_lock_lifts_when_the_failures_leave_the_window(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    make_operator()
    for _ in range(5):
        login(browser, password="wrong password!!")
    with database.transaction() as db:
        for failure in db.scalars(select(LoginFailure)):
            failure.created_at = utcnow() - timedelta(minutes=16)
    assert login(browser).status_code == 303


def test_unknown_email_and_disabled_accounts_cannot_log_in(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    make_operator(email="boss@acme.test")
    op_id = make_operator(email="gone@acme.test", role="viewer")
    assert login(browser, email="nobody@acme.test").status_code == 401
    assert login(browser, tenant="no-such-tenant").status_code == 401
    with database.transaction() as db:
        tenant_id = get_or_create_tenant(db, "acme").id
        ctx = RequestContext(tenant_id, "production", actor_type="operator")
        service.update_operator(db, ctx, op_id, active=False)
    assert login(browser, email="gone@acme.test").status_code == 401


def test_login_form_needs_its_csrf_token(
    browser: TestClient, make_operator: Callable[..., str]
) -> None:
    make_operator()
    browser.get("/console/login")
    response = browser.post(
        "/console/login",
        data={"tenant": "acme", "email": "ada@acme.test", "password": PASSWORD},
    )
    assert response.status_code == 403
    assert "did not come from this console" in response.text


def test_a_missing_form_field_answers_an_html_400_naming_it(
    browser: TestClient, make_operator: Callable[..., str]
) -> None:
    make_operator()
    login(browser)
    token = page_csrf(browser, "/console/operators")
    response = browser.post("/console/operators", data={"csrf_token": token, "email": "x@y.test"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "<strong>password</strong>" in response.text


def test_logout_ends_the_session_on_the_server(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    make_operator()
    login(browser)
    cookie = browser.cookies.get("kycd_console")
    response = browser.post("/console/logout", data={"csrf_token": page_csrf(browser)})
    assert response.status_code == 303
    # Replaying the old cookie does not bring the session back.
    browser.cookies.set("kycd_console", cookie or "", path="/console")
    assert browser.get("/console/dashboard").status_code == 303
    assert events_of(database)[-1].type == "admin.logout"


def test_activity_keeps_a_session_alive(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    make_operator()
    login(browser)
    a_while_ago = utcnow() - timedelta(minutes=20)
    with database.transaction() as db:
        for row in db.scalars(select(OperatorSession)):
            row.last_seen_at = a_while_ago
    assert browser.get("/console/dashboard").status_code == 200
    with database.session() as db:
        assert db.scalars(select(OperatorSession.last_seen_at)).one() > a_while_ago


def test_idle_sessions_expire(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    make_operator()
    login(browser)
    with database.transaction() as db:
        for row in db.scalars(select(OperatorSession)):
            row.last_seen_at = utcnow() - service.SESSION_IDLE_TIMEOUT
    assert browser.get("/console/dashboard").status_code == 303


# CSRF on every form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/console/logout", {}),
        ("/console/environment", {"environment": "production"}),
        ("/console/credentials", {"scopes": "kyc:read"}),
        ("/console/operators", {"email": "x@acme.test", "password": PASSWORD}),
    ],
)
def test_posts_without_the_csrf_token_are_refused(
    browser: TestClient,
    make_operator: Callable[..., str],
    database: Database,
    path: str,
    data: dict[str, str],
) -> None:
    make_operator()
    login(browser)
    before = len(events_of(database))
    assert browser.post(path, data=data).status_code == 403
    assert browser.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
    assert len(events_of(database)) == before
    assert browser.get("/console/dashboard").status_code == 200  # still logged in


def test_cross_site_origin_is_refused_even_with_the_token(
    browser: TestClient, make_operator: Callable[..., str]
) -> None:
    make_operator()
    login(browser)
    token = page_csrf(browser)
    response = browser.post(
        "/console/environment",
        data={"environment": "production", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


# Customers, scoping ---------------------------------------------------------------------


def test_the_public_base_url_is_a_trusted_origin(
    browser: TestClient, make_operator: Callable[..., str], settings: Settings
) -> None:
    # Behind a proxy that does not pass Host on, Origin is the public address.
    make_operator()
    login(browser)
    response = browser.post(
        "/console/environment",
        data={"environment": "production", "csrf_token": page_csrf(browser)},
        headers={"Origin": settings.public_base_url},
    )
    assert response.status_code == 303


def test_one_ip_guessing_many_accounts_is_throttled(
    browser: TestClient, make_operator: Callable[..., str]
) -> None:
    make_operator()
    for n in range(20):
        assert login(browser, email=f"guess{n}@acme.test").status_code == 401
    assert login(browser).status_code == 429


def test_search_and_customer_page(
    browser: TestClient, make_operator: Callable[..., str], api: Any, creds: Any
) -> None:
    # `creds` is tenant "acme", sandbox: the operator's tenant.
    make_operator()
    created = api.post(
        "/v1/customers", json=customer_payload(client_id="user-777", last_name="Hopper")
    ).json()
    api.post("/v1/customers", json=customer_payload(last_name="Turing"))
    api.post("/v1/sessions", json={"customer_id": created["id"]})
    login(browser)

    by_name = browser.get("/console/customers", params={"q": "hopper"})
    assert by_name.status_code == 200
    assert "user-777" in by_name.text and "Turing" not in by_name.text
    by_ref = browser.get("/console/customers", params={"q": "user-777"})
    assert f"/console/customers/{created['id']}" in by_ref.text
    assert browser.get("/console/customers", params={"status": "bogus"}).status_code == 400

    page = browser.get(f"/console/customers/{created['id']}")
    assert page.status_code == 200
    assert "Rosenweg 221" in page.text  # the address
    assert "KYC_01" in page.text  # the session
    assert "applicant.created" in page.text and "enrollment.created" in page.text

    dashboard = browser.get("/console/dashboard").text
    assert re.search(r'data-status="pending">2<', dashboard)


def test_another_tenants_operator_sees_nothing(
    browser: TestClient, make_operator: Callable[..., str], api: Any
) -> None:
    theirs = api.post("/v1/customers", json=customer_payload()).json()  # tenant "acme"
    make_operator(tenant="globex", email="eve@globex.test", role="admin")
    login(browser, tenant="globex", email="eve@globex.test")
    assert browser.get(f"/console/customers/{theirs['id']}").status_code == 404
    assert theirs["id"] not in browser.get("/console/customers").text
    search = browser.get("/console/customers", params={"q": theirs["client_id"]}).text
    assert theirs["id"] not in search and "No customers found" in search
    assert "No customers in sandbox yet" in browser.get("/console/dashboard").text


def test_environment_switch_scopes_the_data(
    browser: TestClient, make_operator: Callable[..., str], api: Any
) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()  # sandbox
    make_operator()
    login(browser, environment="production")
    assert browser.get(f"/console/customers/{customer['id']}").status_code == 404
    token = page_csrf(browser)
    switched = browser.post(
        "/console/environment",
        data={"environment": "sandbox", "csrf_token": token, "next": "/console/customers"},
    )
    assert switched.headers["location"] == "/console/customers"
    assert browser.get(f"/console/customers/{customer['id']}").status_code == 200


# Roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_only_admins_manage_credentials_and_operators(
    browser: TestClient, make_operator: Callable[..., str], role: str
) -> None:
    make_operator(email="someone@acme.test", role=role)
    login(browser, email="someone@acme.test")
    token = page_csrf(browser)
    assert browser.get("/console/credentials").status_code == 403
    assert browser.get("/console/operators").status_code == 403
    assert browser.get("/console/audit").status_code == 403
    assert browser.post("/console/credentials", data={"csrf_token": token}).status_code == 403
    created = browser.post(
        "/console/operators",
        data={"csrf_token": token, "email": "new@acme.test", "password": PASSWORD},
    )
    assert created.status_code == 403
    assert "API credentials" not in browser.get("/console/dashboard").text  # not in the nav


# Credentials ------------------------------------------------------------------------------


def _issued_pair(html: str) -> tuple[str, str]:
    key = re.search(r'id="new-api-key">([^<]+)<', html)
    secret = re.search(r'id="new-api-secret">([^<]+)<', html)
    assert key and secret
    return key.group(1), secret.group(1)


def test_create_rotate_revoke_credential(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    operator_id = make_operator()
    login(browser)
    token = page_csrf(browser, "/console/credentials")
    created = browser.post(
        "/console/credentials",
        data={"csrf_token": token, "name": "backend", "scopes": ["kyc:read", "kyc:create"]},
    )
    assert created.status_code == 200
    key, secret = _issued_pair(created.text)
    headers = {"X-Api-Key": key, "X-Api-Secret": secret}
    assert browser.get("/v1/customers", headers=headers).status_code == 200

    # The secret is shown once: the list page does not carry it.
    assert secret not in browser.get("/console/credentials").text
    with database.session() as db:
        cred_id = db.scalars(
            select(Event.payload).where(Event.type == "admin.credential_created")
        ).all()[-1]["credential_id"]

    rotated = browser.post(f"/console/credentials/{cred_id}/rotate", data={"csrf_token": token})
    assert rotated.status_code == 200
    new_key, new_secret = _issued_pair(rotated.text)
    assert browser.get("/v1/customers", headers=headers).status_code == 401
    new_headers = {"X-Api-Key": new_key, "X-Api-Secret": new_secret}
    assert browser.get("/v1/customers", headers=new_headers).status_code == 200
    # Rotating a revoked credential again is a conflict, not a second successor.
    again = browser.post(f"/console/credentials/{cred_id}/rotate", data={"csrf_token": token})
    assert again.status_code == 409

    with database.session() as db:
        new_id = db.scalars(
            select(Event.payload).where(Event.type == "admin.credential_rotated")
        ).one()["new_credential_id"]
    revoked = browser.post(f"/console/credentials/{new_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert browser.get("/v1/customers", headers=new_headers).status_code == 401

    kinds = [(e.type, e.actor_type, e.actor_id) for e in events_of(database, "admin.credential")]
    assert kinds == [
        ("admin.credential_created", "operator", operator_id),
        ("admin.credential_rotated", "operator", operator_id),
        ("admin.credential_revoked", "operator", operator_id),
    ]


def test_credentials_of_the_other_environment_are_out_of_reach(
    browser: TestClient, make_operator: Callable[..., str], make_credentials: Any
) -> None:
    production = make_credentials(tenant="acme", environment="production")
    make_operator()
    login(browser, environment="sandbox")
    token = page_csrf(browser, "/console/credentials")
    assert production.issued.api_key not in browser.get("/console/credentials").text
    cred_id = production.issued.credential_id
    for action in ("rotate", "revoke"):
        response = browser.post(
            f"/console/credentials/{cred_id}/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 404
    assert browser.get("/v1/customers", headers=production.bearer).status_code == 200


# Operators --------------------------------------------------------------------------------


def test_admin_creates_and_changes_operators(
    browser: TestClient, make_operator: Callable[..., str], database: Database, console_app: Any
) -> None:
    make_operator()
    login(browser)
    token = page_csrf(browser, "/console/operators")
    created = browser.post(
        "/console/operators",
        data={
            "csrf_token": token,
            "email": "Grace@Acme.test",
            "password": PASSWORD,
            "role": "reviewer",
        },
    )
    assert created.status_code == 303
    assert "grace@acme.test" in browser.get("/console/operators").text
    duplicate = browser.post(
        "/console/operators",
        data={"csrf_token": token, "email": "grace@acme.test", "password": PASSWORD},
    )
    assert duplicate.status_code == 409
    short = browser.post(
        "/console/operators",
        data={"csrf_token": token, "email": "short@acme.test", "password": "short"},
    )
    assert short.status_code == 400 and "at least 12 characters" in short.text

    # Grace logs in elsewhere, then the admin disables her: her session ends.
    with TestClient(console_app, follow_redirects=False) as grace:
        assert login(grace, email="grace@acme.test").status_code == 303
        with database.session() as db:
            grace_id = next(
                o.id for o in service.list_operators(db, _ctx(db)) if o.email == "grace@acme.test"
            )
        disabled = browser.post(
            f"/console/operators/{grace_id}", data={"csrf_token": token, "active": "false"}
        )
        assert disabled.status_code == 303
        assert grace.get("/console/dashboard").status_code == 303

    types = [e.type for e in events_of(database, "admin.operator")]
    assert types == ["admin.operator_created", "admin.operator_created", "admin.operator_updated"]


def _ctx(db: Any) -> RequestContext:
    tenant = get_or_create_tenant(db, "acme")
    return RequestContext(tenant.id, "sandbox", actor_type="operator")


def test_the_last_admin_cannot_be_demoted_or_disabled(
    browser: TestClient, make_operator: Callable[..., str]
) -> None:
    admin_id = make_operator()
    login(browser)
    token = page_csrf(browser, "/console/operators")
    demote = browser.post(
        f"/console/operators/{admin_id}", data={"csrf_token": token, "role": "viewer"}
    )
    assert demote.status_code == 409
    disable = browser.post(
        f"/console/operators/{admin_id}", data={"csrf_token": token, "active": "false"}
    )
    assert disable.status_code == 409, disable.text
    assert browser.get("/console/operators").status_code == 200  # still an admin


def test_admin_events_stay_out_of_customer_timelines(
    browser: TestClient, make_operator: Callable[..., str], api: Any, database: Database
) -> None:
    customer = api.post("/v1/customers", json=customer_payload()).json()
    make_operator()
    login(browser, password="wrong password!!")
    login(browser)
    page = browser.get(f"/console/customers/{customer['id']}").text
    assert "admin.login" not in page
    audit = browser.get("/console/audit").text
    assert "admin.login_failed" in audit and "admin.login" in audit


def test_purge_forgets_expired_sessions_and_old_failures(
    browser: TestClient, make_operator: Callable[..., str], database: Database
) -> None:
    make_operator()
    login(browser, email="typo@acme.test")
    login(browser)
    with database.transaction() as db:
        assert service.purge_expired(db, utcnow()) == 0
        assert service.purge_expired(db, utcnow() + timedelta(hours=13)) == 2


# Own password -----------------------------------------------------------------------------


def _change_password(client: TestClient, current: str, new: str, confirm: str | None = None) -> Any:
    return client.post(
        "/console/account/password",
        data={
            "csrf_token": page_csrf(client, "/console/account"),
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )


def test_operator_changes_their_password(
    browser: TestClient, make_operator: Callable[..., str], database: Database, console_app: Any
) -> None:
    make_operator(role="viewer")  # every role may change its own password
    new = "a brand new passphrase"
    with TestClient(console_app, follow_redirects=False) as other_browser:
        login(other_browser)
        login(browser)
        mismatch = _change_password(browser, PASSWORD, new, confirm="something else entirely")
        assert mismatch.status_code == 400 and "<strong>confirm_password</strong>" in mismatch.text
        changed = _change_password(browser, PASSWORD, new)
        assert changed.status_code == 200 and 'id="password-changed"' in changed.text
        assert browser.get("/console/dashboard").status_code == 200  # this session lives on
        assert other_browser.get("/console/dashboard").status_code == 303  # the other ended
    with TestClient(console_app, follow_redirects=False) as fresh:
        assert login(fresh).status_code == 401
        assert login(fresh, password=new).status_code == 303
    assert [e.type for e in events_of(database, "admin.password")] == ["admin.password_changed"]


def test_guessing_the_current_password_is_throttled(
    browser: TestClient, make_operator: Callable[..., str]
) -> None:
    make_operator()
    login(browser)
    for _ in range(5):
        wrong = _change_password(browser, "not my password", "a brand new passphrase")
        assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    locked = _change_password(browser, PASSWORD, "a brand new passphrase")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
