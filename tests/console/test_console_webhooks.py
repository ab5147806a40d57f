"""Webhook endpoints in the console: the delivery log of a console decision and
redelivery through the webhooks service (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from test_console_pages import browser, console_app, csrf_of, login, make_operator  # noqa: F401
from test_console_review import LEVEL, awaiting_applicant, decide

from conftest import Api, Credentials
from webhook_harness import Receiver, Rounds, receiver, register, rounds  # noqa: F401


def test_a_console_decision_is_delivered_and_can_be_redelivered(
    browser: TestClient,  # noqa: F811
    make_operator: Callable[..., str],  # noqa: F811
    make_credentials: Callable[..., Credentials],
    receiver: Receiver,  # noqa: F811
    rounds: Rounds,  # noqa: F811
) -> None:
    make_operator(role="admin")
    api = Api(browser, make_credentials("acme", "sandbox").bearer)
    assert api.put("/v1/levels/TWO", json=LEVEL).status_code == 200
    endpoint = register(api, receiver, ["applicant.verified"])
    customer_id = awaiting_applicant(api, "hooked")
    login(browser)
    assert decide(browser, customer_id, "identity_doc", decision="approve").status_code == 303
    rounds.run(datetime.now(UTC))
    (first,) = receiver.wait_for(1)
    assert first.json["type"] == "applicant.verified"
    assert first.verified_by == [0]

    listing = browser.get("/console/webhooks")
    assert listing.status_code == 200 and receiver.hook_url in listing.text
    log = browser.get(f"/console/webhooks/{endpoint['id']}")
    assert log.status_code == 200
    (delivery_id,) = re.findall(r'data-delivery="([^"]+)"', log.text)
    assert 'data-status="succeeded"' in log.text
    assert first.json["data"]["externalUserId"] == "hooked"
    assert first.json["data"]["step"]["reviewAnswer"] == "GREEN"
    assert '"externalUserId": "hooked"' in log.text  # the payload, shown

    redelivered = browser.post(
        f"/console/webhooks/{endpoint['id']}/deliveries/{delivery_id}/redeliver",
        data={"csrf_token": csrf_of(log.text)},
    )
    assert redelivered.status_code == 303
    assert 'data-status="pending"' in browser.get(f"/console/webhooks/{endpoint['id']}").text
    rounds.run(datetime.now(UTC))
    first, second = receiver.wait_for(2)
    assert second.webhook_id == first.webhook_id  # the same message, again
    detail = api.get(f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries/{delivery_id}").json()
    assert [a["trigger"] for a in detail["attempts"]][-1] != detail["attempts"][0]["trigger"]
    filtered = browser.get(f"/console/webhooks/{endpoint['id']}?status=failed")
    assert re.findall(r'data-delivery="([^"]+)"', filtered.text) == []


def test_webhooks_are_for_admins_only(
    browser: TestClient,  # noqa: F811
    make_operator: Callable[..., str],  # noqa: F811
) -> None:
    make_operator(role="reviewer")
    login(browser)
    assert browser.get("/console/webhooks").status_code == 403
    assert 'href="/console/webhooks"' not in browser.get("/console/dashboard").text
