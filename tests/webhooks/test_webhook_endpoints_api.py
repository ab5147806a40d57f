from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from kycd.db import Database
from kycd.events.models import Event
from webhook_harness import Receiver

BASE = "/v1/webhooks/endpoints"


def create(api: Any, **overrides: Any) -> Any:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["USER_CHECK.PASSED"], **overrides}
    return api.post(BASE, json=body)


def test_registration_shows_the_secret_once(api: Any, database: Database) -> None:
    response = create(api, description="core banking", event_types=["applicantReviewed", "*"])
    assert response.status_code == 201, response.text
    endpoint = response.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["status"] == "enabled"
    assert endpoint["event_types"] == ["applicantReviewed", "*"]
    fetched = api.get(f"{BASE}/{endpoint['id']}").json()
    assert "secret" not in fetched
    assert endpoint["secret"] not in str(api.get(BASE).json())
    with database.session() as db:
        types = db.scalars(select(Event.type)).all()
        stored = str(db.scalars(select(Event.payload)).all())
    assert "admin.webhook_endpoint_created" in types
    assert endpoint["secret"] not in stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "https://10.0.0.7/hook"}, "url"),
        ({"url": "https://100.64.0.1/hook"}, "url"),
        ({"url": "https://[fd00::1]/hook"}, "url"),
        ({"url": "https://192.168.1.1/hook"}, "url"),
        ({"url": "http://93.184.216.34/hook"}, "url"),
        ({"url": "ftp://127.0.0.1/hook"}, "url"),
        ({"url": "https://user:pw@127.0.0.1/hook"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["bad type!"]}, "event_types.0"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_registration_refuses_bad_input_with_400_naming_the_field(
    api: Any, body: dict[str, Any], field: str
) -> None:
    response = create(api, **body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["details"][0]["field"] == field
    assert {"code", "message", "details", "traceId"} <= error.keys()


def test_admin_scope_is_required(api_as: Callable[..., Any]) -> None:
    reader = api_as(scopes=["kyc:read", "kyc:create", "kyc:update"])
    assert create(reader).status_code == 403
    assert reader.get(BASE).status_code == 403


def test_another_tenants_endpoint_answers_404(api: Any, api_as: Callable[..., Any]) -> None:
    endpoint = create(api).json()
    other = api_as(tenant="globex")
    for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/deliveries")]:
        kwargs = {"json": {"description": "x"}} if method == "PATCH" else {}
        response = other.request(method, f"{BASE}/{endpoint['id']}{suffix}", **kwargs)
        assert response.status_code == 404, (method, suffix)
    assert other.get(BASE).json()["data"] == []
    production = api_as(environment="production")
    assert production.get(f"{BASE}/{endpoint['id']}").status_code == 404


def test_update_disable_enable_and_delete(api: Any) -> None:
    endpoint = create(api).json()
    url = f"{BASE}/{endpoint['id']}"
    changed = api.patch(url, json={"event_types": ["*"], "description": "all"}).json()
    assert changed["event_types"] == ["*"] and changed["description"] == "all"
    disabled = api.patch(url, json={"status": "disabled"}).json()
    assert disabled["status"] == "disabled" and disabled["disabled_reason"] == "manual"
    enabled = api.patch(url, json={"status": "enabled"}).json()
    assert enabled["status"] == "enabled" and enabled["disabled_reason"] is None
    assert api.patch(url, json={"url": "https://10.1.1.1/"}).status_code == 400
    assert api.patch(url, json={"url": None}).status_code == 400
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_list_is_paginated_newest_first(api: Any) -> None:
    ids = [create(api, description=str(i)).json()["id"] for i in range(3)]
    page = api.get(BASE, params={"page_size": 2}).json()
    assert page["pagination"] == {"page": 1, "page_size": 2, "total": 3, "total_pages": 2}
    assert [e["id"] for e in page["data"]] == ids[::-1][:2]


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_the_grace_period(
    api: Any,
) -> None:
    endpoint = create(api).json()
    rotated = api.post(
        f"{BASE}/{endpoint['id']}/rotate-secret", json={"grace_period_seconds": 3600}
    ).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    no_grace = api.post(f"{BASE}/{endpoint['id']}/rotate-secret", json={"grace_period_seconds": 0})
    assert no_grace.json()["previous_secret_expires_at"] is None
    too_long = api.post(
        f"{BASE}/{endpoint['id']}/rotate-secret", json={"grace_period_seconds": 10**9}
    )
    assert too_long.status_code == 400
    assert too_long.json()["details"][0]["field"] == "grace_period_seconds"
    default = api.post(f"{BASE}/{endpoint['id']}/rotate-secret")
    assert default.status_code == 200


def test_unknown_delivery_answers_404(api: Any, receiver: Receiver) -> None:
    endpoint = create(api).json()
    assert api.get(f"{BASE}/{endpoint['id']}/deliveries/nope").status_code == 404
    assert api.post(f"{BASE}/{endpoint['id']}/deliveries/nope/redeliver").status_code == 404
