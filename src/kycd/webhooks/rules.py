"""Webhook rules with no I/O: the retry schedule, what counts as success, when an
endpoint is given up on, which events an endpoint receives and what their bodies
look like. Everything here is tested table-driven, without a database.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

# The Standard Webhooks specification's example schedule: each delay follows the
# failure of the previous attempt; ten attempts spread over about three days.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
# Each delay is stretched or shrunk by up to this fraction, so that the retries
# of many deliveries that failed together (a receiver outage) do not all come
# back in the same second.
JITTER = 0.2
# An endpoint that has not answered one attempt with 2xx for this long, while
# attempts keep failing, is disabled.
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
DEFAULT_TIMEOUT_SECONDS = 15.0

# Subscribes to every event type except the operator-administrative ones
# (``admin.*``: endpoints, credentials), which an endpoint must name to receive.
ALL_EVENTS = "*"
ADMIN_PREFIX = "admin."


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # 410 Gone: the receiver says the endpoint no longer exists.
    GONE = "gone"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AttemptOutcome(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The worker stopped (crash, SIGKILL) before it learned the attempt's result.
    ABANDONED = "abandoned"


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DisabledReason(StrEnum):
    MANUAL = "manual"
    GONE = "gone"
    FAILING = "failing"


def classify_status(status_code: int | None) -> Outcome:
    """Only a 2xx is a success. A 3xx is a failure (redirects are never followed,
    so a receiver cannot bounce a signed payload to another host); 410 means the
    endpoint is gone; no status at all (timeout, refused connection) failed."""
    if status_code is None:
        return Outcome.FAILED
    if 200 <= status_code < 300:
        return Outcome.SUCCEEDED
    if status_code == 410:
        return Outcome.GONE
    return Outcome.FAILED


def retry_delay(failed_attempts: int, rng: random.Random) -> timedelta | None:
    """The pause after the ``failed_attempts``-th consecutive failure, with
    jitter; ``None`` when the schedule is exhausted and the delivery has failed."""
    if failed_attempts < 1 or failed_attempts > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[failed_attempts - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def should_disable(failing_since: datetime | None, now: datetime) -> bool:
    return failing_since is not None and now - failing_since >= DISABLE_AFTER_FAILING_FOR


def subscribes_to(event_types: list[str], event_type: str) -> bool:
    """Exact names, ``prefix.*`` for a family, ``*`` for all but ``admin.*``."""
    for wanted in event_types:
        if wanted == event_type:
            return True
        if wanted == ALL_EVENTS and not event_type.startswith(ADMIN_PREFIX):
            return True
        if wanted.endswith(".*") and event_type.startswith(wanted[:-1]):
            return True
    return False


def wants_event(
    event_types: list[str], endpoint_created_at: datetime, event_type: str, event_at: datetime
) -> bool:
    """An endpoint receives the events it subscribes to that happened after it
    was registered: registering an endpoint never replays the tenant's history."""
    return subscribes_to(event_types, event_type) and event_at >= endpoint_created_at


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class EventData:
    id: str
    type: str
    created_at: datetime
    payload: dict[str, Any]


USER_CHECK_TYPES = frozenset({"USER_CHECK.PASSED", "USER_CHECK.FAILED"})
APPLICANT_REVIEWED = "applicantReviewed"


def render_body(event: EventData, endpoint_id: str) -> dict[str, Any]:
    """The body an endpoint receives for an event, in the dialect of the seed
    that promises the event type."""
    if event.type in USER_CHECK_TYPES:
        # Seed 004's envelope; created_at is the event's timestamp.
        return {
            "id": event.id,
            "created_at": rfc3339(event.created_at),
            "type": event.type,
            "object": event.payload,
            "webhook_id": endpoint_id,
        }
    if event.type == APPLICANT_REVIEWED:
        # Seed 002: the payload is already in the /steps vocabulary.
        body = dict(event.payload)
        body.setdefault("type", APPLICANT_REVIEWED)
        body.setdefault("createdAtUtc", rfc3339(event.created_at))
        return body
    return {
        "id": event.id,
        "type": event.type,
        "created_at": rfc3339(event.created_at),
        "data": event.payload,
    }


def encode_body(body: dict[str, Any]) -> str:
    # Compact and stable: the exact bytes are signed and stored once, so every
    # retry sends the same bytes under the same webhook-id.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
