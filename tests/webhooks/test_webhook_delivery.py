"""Delivery against a real receiver, one worker round at a time, on a fake clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kycd.core.safe_http import AddressPolicy
from kycd.db import Database, utcnow
from kycd.events.models import Event
from kycd.webhooks.delivery import claim_due
from kycd.webhooks.models import WebhookDelivery, WebhookEndpoint
from kycd.webhooks.outbox import fan_out
from kycd.webhooks.rules import JITTER, RETRY_SCHEDULE
from webhook_harness import Receiver, Rounds, emit, register

BASE = "/v1/webhooks/endpoints"
CHECK = {"id": "chk-1", "user_id": "u-1", "type": "KYC", "status": "PASSED"}


def later(seconds: float = 0) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def deliveries(api: Any, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    return list(api.get(f"{BASE}/{endpoint['id']}/deliveries").json()["data"])


def detail(api: Any, endpoint: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    return dict(api.get(f"{BASE}/{endpoint['id']}/deliveries/{delivery_id}").json())


def test_subscribed_events_arrive_signed_in_the_seed_payloads(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver, ["USER_CHECK.PASSED", "applicantReviewed"])
    check_event = emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    emit(database, creds.tenant_id, "applicantReviewed", {"externalUserId": "user-1"})
    emit(database, creds.tenant_id, "applicant.updated", {"ignored": True})
    rounds.run(later())
    posts = receiver.posts()
    assert len(posts) == 2
    assert all(p.verified_by == [0] for p in posts)
    by_type = {p.json["type"]: p.json for p in posts}
    assert by_type["USER_CHECK.PASSED"] == {
        "id": check_event,
        "created_at": by_type["USER_CHECK.PASSED"]["created_at"],
        "type": "USER_CHECK.PASSED",
        "object": CHECK,
        "webhook_id": endpoint["id"],
    }
    assert by_type["USER_CHECK.PASSED"]["created_at"].endswith("Z")
    assert by_type["applicantReviewed"]["externalUserId"] == "user-1"
    assert "createdAtUtc" in by_type["applicantReviewed"]
    ids = {d["id"] for d in deliveries(api, endpoint)}
    assert {p.webhook_id for p in posts} == ids
    assert all(d["status"] == "succeeded" for d in deliveries(api, endpoint))


def test_api_changes_reach_a_catch_all_endpoint(
    api: Any, receiver: Receiver, rounds: Rounds
) -> None:
    register(api, receiver)
    customer = api.post(
        "/v1/customers", json={"client_id": "user-77", "first_name": "Ada", "last_name": "L"}
    )
    assert customer.status_code == 201, customer.text
    rounds.run(later())
    types = {p.json["type"] for p in receiver.posts()}
    assert "applicant.created" in types
    created = next(p.json for p in receiver.posts() if p.json["type"] == "applicant.created")
    assert created["data"]["externalUserId"] == "user-77"


def test_other_tenants_and_earlier_events_are_not_sent(
    api: Any,
    creds: Any,
    make_credentials: Callable[..., Any],
    database: Database,
    receiver: Receiver,
    rounds: Rounds,
) -> None:
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    register(api, receiver)
    other = make_credentials(tenant="globex")
    emit(database, other.tenant_id, "USER_CHECK.PASSED", CHECK)
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK, environment="production")
    rounds.run(later())
    assert receiver.posts() == []


def test_tampered_body_is_rejected_by_the_receiver(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    register(api, receiver)
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    rounds.run(later())
    [original] = receiver.posts()
    tampered = original.body.replace(b"PASSED", b"FAILED")
    signed = {k: v for k, v in original.headers.items() if k.startswith("webhook-")}
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secrets[0]).verify(tampered, signed)
    answer = httpx.post(receiver.hook_url, content=tampered, headers=signed)
    assert answer.status_code == 400
    assert receiver.posts()[-1].verified_by == []


def test_rotation_signs_with_both_secrets_until_the_grace_period_ends(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver)
    rotated = api.post(
        f"{BASE}/{endpoint['id']}/rotate-secret", json={"grace_period_seconds": 3600}
    ).json()
    receiver.secrets.append(rotated["secret"])
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    rounds.run(later())
    during = receiver.posts()[-1]
    assert during.verified_by == [0, 1], "either secret verifies during the grace period"
    assert during.headers["webhook-signature"].count("v1,") == 2
    emit(database, creds.tenant_id, "USER_CHECK.FAILED", CHECK)
    rounds.run(later(3601))
    after = receiver.posts()[-1]
    assert after.verified_by == [1], "only the new secret signs after the grace period"


def test_retries_follow_the_schedule_on_a_fake_clock(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver)
    receiver.default = (500, 0.0)
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    now = later()
    rounds.run(now)
    for failures, base in enumerate(RETRY_SCHEDULE, start=1):
        with database.session() as db:
            delivery = db.scalars(select(WebhookDelivery)).one()
        assert delivery.failed_in_row == failures
        wait = delivery.next_attempt_at - now
        assert base * (1 - JITTER) - timedelta(seconds=1) <= wait <= base * (1 + JITTER)
        assert rounds.run(now + wait - timedelta(seconds=1)) == [], "not before its time"
        now = now + wait
        assert len(rounds.run(now)) == 1
    [delivery_out] = deliveries(api, endpoint)
    assert delivery_out["status"] == "failed"
    assert delivery_out["attempt_count"] == len(RETRY_SCHEDULE) + 1
    assert delivery_out["last_status_code"] == 500
    assert len({p.webhook_id for p in receiver.posts()}) == 1, "same webhook-id on every retry"
    assert rounds.run(now + timedelta(days=30)) == []


def test_success_after_failures_is_recorded_attempt_by_attempt(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver)
    receiver.script.extend([(503, 0.0), (302, 0.0)])
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    now = later()
    for step in (0, 10, 400):
        rounds.run(now + timedelta(seconds=step))
    [delivery] = deliveries(api, endpoint)
    assert delivery["status"] == "succeeded"
    attempts = detail(api, endpoint, delivery["id"])["attempts"]
    assert [a["status_code"] for a in attempts] == [503, 302, 200]
    assert [a["outcome"] for a in attempts] == ["failed", "failed", "succeeded"]
    assert "redirects are not followed" in attempts[1]["error"]
    assert all(a["latency_ms"] is not None for a in attempts)
    assert not any(r.path == "/redirected" for r in receiver.received), "3xx never followed"
    listed = api.get(f"{BASE}/{endpoint['id']}/deliveries/{delivery['id']}/attempts").json()
    assert listed == attempts
    everything = api.get(f"{BASE}/{endpoint['id']}/deliveries/{delivery['id']}").text
    assert "RESPONSE-BODY-MUST-NOT-LEAK" not in everything


def test_410_disables_the_endpoint_with_an_event(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver)
    receiver.default = (410, 0.0)
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    rounds.run(later())
    fetched = api.get(f"{BASE}/{endpoint['id']}").json()
    assert fetched["status"] == "disabled" and fetched["disabled_reason"] == "gone"
    [delivery] = deliveries(api, endpoint)
    assert delivery["status"] == "failed"
    with database.session() as db:
        event = db.scalars(
            select(Event).where(Event.type == "admin.webhook_endpoint_disabled")
        ).one()
    assert event.payload["reason"] == "gone" and event.payload["endpoint_id"] == endpoint["id"]
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    rounds.run(later(60))
    assert len(receiver.posts()) == 1, "a disabled endpoint receives nothing"


def test_endpoint_failing_for_days_is_disabled(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver)
    receiver.default = (500, 0.0)
    now = later()
    for day in range(7):
        emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
        rounds.run(now + timedelta(days=day))
    fetched = api.get(f"{BASE}/{endpoint['id']}").json()
    assert fetched["status"] == "disabled" and fetched["disabled_reason"] == "failing"
    with database.session() as db:
        disabled_at = db.scalars(select(WebhookEndpoint.disabled_at)).one()
    assert disabled_at is not None and disabled_at - now >= timedelta(days=5)
    enabled = api.patch(f"{BASE}/{endpoint['id']}", json={"status": "enabled"}).json()
    assert enabled["status"] == "enabled"


def test_timeout_is_a_failure(api: Any, creds: Any, database: Database, receiver: Receiver) -> None:
    endpoint = register(api, receiver)
    receiver.script.append((200, 1.0))
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    [result] = Rounds(database, AddressPolicy(["127.0.0.0/8"]), timeout=0.2).run(later())
    assert result.status_code is None and result.error == "timed out after 0.2 s"
    assert result.latency_ms < 900
    [delivery] = deliveries(api, endpoint)
    assert delivery["status"] == "pending" and delivery["last_error"] == "timed out after 0.2 s"


def test_ssrf_refused_at_delivery_when_the_address_is_not_allowed(
    api: Any, creds: Any, database: Database, receiver: Receiver
) -> None:
    endpoint = register(api, receiver)
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    # A worker whose operator allows no private range: loopback is refused at
    # connect time although registration (under another policy) accepted it.
    [result] = Rounds(database, AddressPolicy()).run(later())
    assert result.status_code is None
    assert result.error == "refused: the URL resolves to a non-public address"
    assert receiver.posts() == []
    [delivery] = deliveries(api, endpoint)
    assert delivery["status"] == "pending"


def test_redelivery_on_demand_reuses_the_webhook_id(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver)
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    rounds.run(later())
    [delivery] = deliveries(api, endpoint)
    url = f"{BASE}/{endpoint['id']}/deliveries/{delivery['id']}/redeliver"
    queued = api.post(url)
    assert queued.status_code == 202 and queued.json()["status"] == "pending"
    rounds.run(later(1))
    first, second = receiver.posts()
    assert first.webhook_id == second.webhook_id == delivery["id"]
    assert first.body == second.body
    attempts = detail(api, endpoint, delivery["id"])["attempts"]
    assert [a["trigger"] for a in attempts] == ["scheduled", "manual"]


def test_redelivery_while_an_attempt_is_in_flight_is_a_conflict(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    endpoint = register(api, receiver)
    emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    now = utcnow()
    fan_out(database, now)
    [claimed] = claim_due(database, rounds.box, now, 10, rounds.config)
    url = f"{BASE}/{endpoint['id']}/deliveries/{claimed.delivery_id}/redeliver"
    response = api.post(url)
    assert response.status_code == 409 and response.json()["code"] == "delivery_in_progress"
    api.patch(f"{BASE}/{endpoint['id']}", json={"status": "disabled"})
    assert api.post(url).json()["code"] == "endpoint_disabled"


def test_two_claims_never_take_the_same_delivery(
    api: Any, creds: Any, database: Database, receiver: Receiver, rounds: Rounds
) -> None:
    register(api, receiver)
    for _ in range(20):
        emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    now = utcnow()
    fan_out(database, now)
    first = claim_due(database, rounds.box, now, 15, rounds.config)
    second = claim_due(database, rounds.box, now, 15, rounds.config)
    assert len(first) == 15 and len(second) == 5
    assert not {c.delivery_id for c in first} & {c.delivery_id for c in second}
    assert claim_due(database, rounds.box, now, 15, rounds.config) == []
    # Once the lease is over, a claim whose worker vanished is taken over and
    # the lost attempt is marked abandoned.
    retaken = claim_due(database, rounds.box, now + timedelta(minutes=1), 50, rounds.config)
    assert len(retaken) == 20
    random.shuffle(retaken)
    api_delivery = detail(api, {"id": retaken[0].endpoint_id}, retaken[0].delivery_id)
    assert [a["outcome"] for a in api_delivery["attempts"]] == ["abandoned", "in_progress"]
