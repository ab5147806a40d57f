from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kycd.webhooks.rules import (
    JITTER,
    MAX_ATTEMPTS,
    RETRY_SCHEDULE,
    EventData,
    Outcome,
    classify_status,
    encode_body,
    render_body,
    retry_delay,
    should_disable,
    wants_event,
)
from kycd.webhooks.signing import SecretBox, new_signing_secret, webhook_headers

T0 = datetime(2026, 6, 7, 10, 31, 22, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCEEDED),
        (204, Outcome.SUCCEEDED),
        (299, Outcome.SUCCEEDED),
        (301, Outcome.FAILED),
        (302, Outcome.FAILED),
        (307, Outcome.FAILED),
        (400, Outcome.FAILED),
        (404, Outcome.FAILED),
        (410, Outcome.GONE),
        (429, Outcome.FAILED),
        (500, Outcome.FAILED),
        (None, Outcome.FAILED),
    ],
)
def test_only_2xx_succeeds_and_410_means_gone(status: int | None, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


def test_schedule_spans_about_three_days_in_ten_attempts() -> None:
    assert MAX_ATTEMPTS == 10
    total = sum(RETRY_SCHEDULE, timedelta())
    assert timedelta(days=3) <= total <= timedelta(days=3, hours=6)


@pytest.mark.parametrize("failures", range(1, len(RETRY_SCHEDULE) + 1))
def test_retry_delay_follows_schedule_within_jitter(failures: int) -> None:
    base = RETRY_SCHEDULE[failures - 1]
    delays = {retry_delay(failures, random.Random(seed)) for seed in range(50)}
    assert all(d is not None and base * (1 - JITTER) <= d <= base * (1 + JITTER) for d in delays)
    assert len(delays) > 40, "jitter spreads retries apart"


@pytest.mark.parametrize("failures", [0, len(RETRY_SCHEDULE) + 1, 99])
def test_retry_delay_is_none_outside_the_schedule(failures: int) -> None:
    assert retry_delay(failures, random.Random(1)) is None


@pytest.mark.parametrize(
    ("failing_for", "disabled"),
    [
        (None, False),
        (timedelta(hours=1), False),
        (timedelta(days=4, hours=23), False),
        (timedelta(days=5), True),
        (timedelta(days=9), True),
    ],
)
def test_endpoint_failing_for_days_is_disabled(
    failing_for: timedelta | None, disabled: bool
) -> None:
    since = None if failing_for is None else T0 - failing_for
    assert should_disable(since, T0) is disabled


@pytest.mark.parametrize(
    ("types", "event_type", "event_at", "wanted"),
    [
        (["*"], "applicant.created", T0, True),
        (["USER_CHECK.PASSED"], "USER_CHECK.PASSED", T0, True),
        (["USER_CHECK.PASSED"], "USER_CHECK.FAILED", T0, False),
        (["applicantReviewed", "USER_CHECK.FAILED"], "USER_CHECK.FAILED", T0, True),
        (["*"], "applicant.created", T0 - timedelta(seconds=1), False),
        (["*"], "admin.webhook_endpoint_disabled", T0, False),
        (["admin.webhook_endpoint_disabled"], "admin.webhook_endpoint_disabled", T0, True),
        (["admin.*"], "admin.webhook_endpoint_disabled", T0, True),
        (["applicant.*"], "applicant.created", T0, True),
        (["applicant.*"], "applicantReviewed", T0, False),
    ],
)
def test_endpoints_receive_subscribed_events_after_registration(
    types: list[str], event_type: str, event_at: datetime, wanted: bool
) -> None:
    assert wants_event(types, T0, event_type, event_at) is wanted


CHECK = {
    "id": "32cbb9a2-dd3b-4e60-a5af-9b41460049dc",
    "user_id": "7b39529a-e68c-4688-8242-7549d10d6084",
    "type": "KYC",
    "status": "PASSED",
    "method": "VIDEO_ID",
}


def test_user_check_events_use_the_seed_004_envelope() -> None:
    body = render_body(EventData("ev-1", "USER_CHECK.PASSED", T0, CHECK), "endpoint-9")
    assert body == {
        "id": "ev-1",
        "created_at": "2026-06-07T10:31:22.123456Z",
        "type": "USER_CHECK.PASSED",
        "object": CHECK,
        "webhook_id": "endpoint-9",
    }


def test_applicant_reviewed_is_the_payload_with_type_and_timestamp() -> None:
    payload = {
        "externalUserId": "user-12345",
        "reviewStatus": "completed",
        "reviewResult": {"reviewAnswer": "RED", "reviewRejectType": "RETRY", "rejectLabels": []},
    }
    body = render_body(EventData("ev-2", "applicantReviewed", T0, payload), "e")
    assert body == {
        **payload,
        "type": "applicantReviewed",
        "createdAtUtc": "2026-06-07T10:31:22.123456Z",
    }
    kept = render_body(
        EventData("ev-2", "applicantReviewed", T0, {"createdAtUtc": "2026-01-01T00:00:00Z"}), "e"
    )
    assert kept["createdAtUtc"] == "2026-01-01T00:00:00Z"


def test_other_events_use_a_generic_envelope() -> None:
    body = render_body(EventData("ev-3", "applicant.created", T0, {"a": 1}), "e")
    assert body == {
        "id": "ev-3",
        "type": "applicant.created",
        "created_at": "2026-06-07T10:31:22.123456Z",
        "data": {"a": 1},
    }


def test_signatures_verify_with_either_secret_and_reject_tampering() -> None:
    old, new = new_signing_secret(), new_signing_secret()
    assert old.startswith("whsec_") and old != new
    now = datetime.now(UTC)
    body = encode_body({"id": "ev", "type": "x", "data": {"ü": 1}})
    headers = webhook_headers([new, old], "msg-1", now, body)
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body.replace("1", "2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(body, headers)


def test_secret_box_seals_and_refuses_another_server_secret() -> None:
    secret = new_signing_secret()
    sealed = SecretBox(b"server-a").seal(secret)
    assert secret not in sealed
    assert SecretBox(b"server-a").open(sealed) == secret
    with pytest.raises(InvalidTag):
        SecretBox(b"server-b").open(sealed)
