"""Delivering: claim due deliveries, send them signed, record what happened.

A claim is a short transaction: the due rows are locked (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so workers on several machines never take the same
row; SQLite's write lock does the same for workers of one file), each gets a
lease token, an attempt row, and its ``next_attempt_at`` pushed past the lease.
The request is sent outside any transaction. The result is written back only
if the lease token still matches. A worker that dies mid-request leaves the
row leased; when the lease runs out the row is due again and the next claim
marks the lost attempt ``abandoned`` and sends it again under the same
webhook-id: at least once, never silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from kycd.core.safe_http import is_blocked_error
from kycd.db import Database, is_postgres, new_id
from kycd.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from kycd.webhooks.outbox import fan_out_in, has_new_events
from kycd.webhooks.rules import (
    DEFAULT_TIMEOUT_SECONDS,
    AttemptOutcome,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    Outcome,
    classify_status,
    retry_delay,
    should_disable,
)
from kycd.webhooks.service import disable_endpoint
from kycd.webhooks.signing import SecretBox, webhook_headers

log = logging.getLogger("kycd.webhooks")

# Response bodies are read (to keep the connection reusable) up to this size and
# thrown away; they are never stored or shown.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class DeliveryConfig:
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    # A lease outlives the longest request by this much; after it, a claim whose
    # worker vanished is taken over.
    lease_margin: float = 30.0

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout + self.lease_margin)


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    lease_token: str
    attempt_id: str
    endpoint_id: str
    tenant_id: str
    environment: str
    url: str
    body: str
    signing_secrets: tuple[str, ...]
    # Consecutive failures before this attempt; picks the delay if it fails too.
    failed_in_row: int


@dataclass(frozen=True)
class AttemptResult:
    claimed: Claimed
    status_code: int | None
    latency_ms: int
    error: str | None
    sent_at: datetime

    @property
    def outcome(self) -> Outcome:
        return classify_status(self.status_code)


def _signing_secrets(
    box: SecretBox,
    sealed: str,
    previous: str | None,
    previous_expires_at: datetime | None,
    now: datetime,
) -> tuple[str, ...]:
    current = box.open(sealed)
    if previous and previous_expires_at is not None and previous_expires_at > now:
        return (current, box.open(previous))
    return (current,)


_deliveries = cast(Table, WebhookDelivery.__table__)
_attempts = cast(Table, WebhookAttempt.__table__)


def anything_due(database: Database, now: datetime) -> bool:
    # Read-only, so an idle worker does not take SQLite's write lock 10 times a second.
    with database.session(read_only=True) as db:
        due = db.scalar(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.status == EndpointStatus.ENABLED.value,
            )
            .limit(1)
        )
        return due is not None


def claim_in(
    db: Session, box: SecretBox, now: datetime, limit: int, config: DeliveryConfig
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries in the caller's transaction."""
    stmt = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.tenant_id,
            WebhookDelivery.environment,
            WebhookDelivery.body,
            WebhookDelivery.attempt_count,
            WebhookDelivery.failed_in_row,
            WebhookDelivery.lease_token,
            WebhookDelivery.manual_request,
            WebhookEndpoint.id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret_sealed,
            WebhookEndpoint.previous_secret_sealed,
            WebhookEndpoint.previous_secret_expires_at,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.status == EndpointStatus.ENABLED.value,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    if is_postgres(db):
        stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
    rows = db.execute(stmt).all()
    if not rows:
        return []
    stale = [row[0] for row in rows if row.lease_token is not None]
    if stale:
        _abandon_attempts(db, stale, now)
    claimed: list[Claimed] = []
    delivery_updates: list[dict[str, Any]] = []
    attempt_rows: list[dict[str, Any]] = []
    for row in rows:
        (delivery_id, tenant_id, environment, body, attempts, failed_in_row, _, manual) = row[:8]
        endpoint_id, url, sealed, previous, previous_expires = row[8:]
        token = secrets.token_hex(16)
        attempt_id = new_id()
        delivery_updates.append(
            {"b_id": delivery_id, "lease_token": token, "attempt_count": attempts + 1}
        )
        attempt_rows.append(
            {
                "id": attempt_id,
                "tenant_id": tenant_id,
                "environment": environment,
                "delivery_id": delivery_id,
                "number": attempts + 1,
                "trigger": "manual" if manual else "scheduled",
                "outcome": AttemptOutcome.IN_PROGRESS.value,
                "started_at": now,
            }
        )
        claimed.append(
            Claimed(
                delivery_id=delivery_id,
                lease_token=token,
                attempt_id=attempt_id,
                endpoint_id=endpoint_id,
                tenant_id=tenant_id,
                environment=environment,
                url=url,
                body=body,
                signing_secrets=_signing_secrets(box, sealed, previous, previous_expires, now),
                failed_in_row=failed_in_row,
            )
        )
    conn = db.connection()
    conn.execute(
        update(_deliveries)
        .where(_deliveries.c.id == bindparam("b_id"))
        .values(
            lease_token=bindparam("lease_token"),
            attempt_count=bindparam("attempt_count"),
            next_attempt_at=now + config.lease,
            last_attempt_at=now,
            manual_request=False,
        ),
        delivery_updates,
    )
    conn.execute(insert(_attempts), attempt_rows)
    return claimed


def claim_due(
    database: Database, box: SecretBox, now: datetime, limit: int, config: DeliveryConfig
) -> list[Claimed]:
    if limit <= 0 or not anything_due(database, now):
        return []
    with database.transaction() as db:
        return claim_in(db, box, now, limit, config)


def _abandon_attempts(db: Session, delivery_ids: list[str], now: datetime) -> None:
    db.execute(
        update(WebhookAttempt)
        .where(
            WebhookAttempt.delivery_id.in_(delivery_ids),
            WebhookAttempt.outcome == AttemptOutcome.IN_PROGRESS.value,
        )
        .values(
            outcome=AttemptOutcome.ABANDONED.value,
            finished_at=now,
            error="the worker stopped before the attempt finished",
        )
        .execution_options(synchronize_session=False)
    )


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    if is_blocked_error(exc):
        return "refused: the URL resolves to a non-public address"
    return f"connection failed ({type(exc).__name__})"


def _status_error(status_code: int) -> str | None:
    outcome = classify_status(status_code)
    if outcome is Outcome.SUCCEEDED:
        return None
    if 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed"
    if outcome is Outcome.GONE:
        return "HTTP 410: the endpoint is gone and has been disabled"
    return f"HTTP {status_code}"


async def send(client: httpx.AsyncClient, claimed: Claimed, timeout: float) -> AttemptResult:
    """One signed POST. The signature's timestamp is the real time of sending
    (receivers reject stale ones), whatever clock schedules the retries."""
    sent_at = datetime.now(UTC)
    headers = webhook_headers(
        list(claimed.signing_secrets), claimed.delivery_id, sent_at, claimed.body
    )
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        async with (
            asyncio.timeout(timeout),
            client.stream(
                "POST", claimed.url, content=claimed.body.encode(), headers=headers
            ) as response,
        ):
            status_code = response.status_code
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > MAX_RESPONSE_BYTES:
                    break
    except (TimeoutError, httpx.HTTPError) as exc:
        if status_code is None:
            error = _describe(exc, timeout)
    except Exception as exc:
        # Whatever else goes wrong is this attempt's failure, never the worker's.
        log.warning("webhook attempt %s failed unexpectedly", claimed.attempt_id, exc_info=exc)
        if status_code is None:
            error = f"request failed ({type(exc).__name__})"
    if status_code is not None:
        error = _status_error(status_code)
    latency_ms = round((time.perf_counter() - started) * 1000)
    return AttemptResult(claimed, status_code, latency_ms, error, sent_at)


def _next_state(
    failed_in_row: int, outcome: Outcome, now: datetime, rng: random.Random
) -> dict[str, Any]:
    """What becomes of a delivery after an attempt: done, or due again later."""
    if outcome is Outcome.SUCCEEDED:
        status, failed, due = DeliveryStatus.SUCCEEDED, 0, None
    elif outcome is Outcome.GONE:
        status, failed, due = DeliveryStatus.FAILED, failed_in_row + 1, None
    else:
        failed = failed_in_row + 1
        delay = retry_delay(failed, rng)
        status = DeliveryStatus.FAILED if delay is None else DeliveryStatus.PENDING
        due = None if delay is None else now + delay
    return {
        "status": status.value,
        "failed_in_row": failed,
        "next_attempt_at": due or now,
        "completed_at": None if due else now,
    }


def record_in(
    db: Session, results: Sequence[AttemptResult], now: datetime, rng: random.Random
) -> None:
    """Write back a batch of attempts and decide what comes next for each.

    A delivery is only changed while the claim's lease token is still its own:
    if a redelivery request took it over meanwhile, that request decides."""
    attempt_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    succeeded: set[str] = set()
    failed: dict[str, tuple[str, str]] = {}
    gone: dict[str, tuple[str, str]] = {}
    for result in results:
        claimed, outcome = result.claimed, result.outcome
        attempt_rows.append(
            {
                "b_id": claimed.attempt_id,
                "outcome": (
                    AttemptOutcome.SUCCEEDED.value
                    if outcome is Outcome.SUCCEEDED
                    else AttemptOutcome.FAILED.value
                ),
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "error": result.error,
            }
        )
        delivery_rows.append(
            {
                "b_id": claimed.delivery_id,
                "b_token": claimed.lease_token,
                "last_status_code": result.status_code,
                "last_error": result.error,
                **_next_state(claimed.failed_in_row, outcome, now, rng),
            }
        )
        scope = (claimed.tenant_id, claimed.environment)
        if outcome is Outcome.SUCCEEDED:
            succeeded.add(claimed.endpoint_id)
        elif outcome is Outcome.GONE:
            gone[claimed.endpoint_id] = scope
        else:
            failed[claimed.endpoint_id] = scope
    conn = db.connection()
    conn.execute(
        update(_attempts)
        .where(_attempts.c.id == bindparam("b_id"))
        .values(
            outcome=bindparam("outcome"),
            finished_at=now,
            status_code=bindparam("status_code"),
            latency_ms=bindparam("latency_ms"),
            error=bindparam("error"),
        ),
        attempt_rows,
    )
    conn.execute(
        update(_deliveries)
        .where(
            _deliveries.c.id == bindparam("b_id"),
            _deliveries.c.lease_token == bindparam("b_token"),
        )
        .values(
            lease_token=None,
            last_status_code=bindparam("last_status_code"),
            last_error=bindparam("last_error"),
            status=bindparam("status"),
            failed_in_row=bindparam("failed_in_row"),
            next_attempt_at=bindparam("next_attempt_at"),
            completed_at=bindparam("completed_at"),
        ),
        delivery_rows,
    )
    _update_endpoints(db, succeeded, failed, gone, now)


def record_results(
    database: Database, results: Sequence[AttemptResult], now: datetime, rng: random.Random
) -> None:
    if results:
        with database.transaction() as db:
            record_in(db, results, now, rng)


def _update_endpoints(
    db: Session,
    succeeded: set[str],
    failed: dict[str, tuple[str, str]],
    gone: dict[str, tuple[str, str]],
    now: datetime,
) -> None:
    if succeeded:
        db.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(succeeded), WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
        )
    for endpoint_id, (tenant_id, environment) in gone.items():
        if disable_endpoint(db, tenant_id, environment, endpoint_id, DisabledReason.GONE, now):
            log.warning("webhook endpoint %s answered 410 and was disabled", endpoint_id)
    still_failing = {k: v for k, v in failed.items() if k not in succeeded and k not in gone}
    if not still_failing:
        return
    db.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(still_failing), WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
    )
    rows = db.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.failing_since).where(
            WebhookEndpoint.id.in_(still_failing),
            WebhookEndpoint.status == EndpointStatus.ENABLED.value,
        )
    ).all()
    for endpoint_id, failing_since in rows:
        if should_disable(failing_since, now):
            tenant_id, environment = still_failing[endpoint_id]
            if disable_endpoint(
                db, tenant_id, environment, endpoint_id, DisabledReason.FAILING, now
            ):
                log.warning("webhook endpoint %s failed for days and was disabled", endpoint_id)


def tick(
    database: Database,
    box: SecretBox,
    results: Sequence[AttemptResult],
    now: datetime,
    rng: random.Random,
    *,
    capacity: int,
    config: DeliveryConfig,
    fan_out_due: bool,
) -> tuple[list[Claimed], int]:
    """One turn of the worker in one write transaction: record finished
    attempts, read new events into deliveries, claim what is due.

    One transaction instead of three: on SQLite each commit waits for the
    single write lock and an fsync, and a delivery passes through all three
    steps, so merging them is what keeps event-to-delivery latency low while
    API requests write. Read-only checks first skip the write when idle.
    Returns the claims and how many events were read."""
    new_events = fan_out_due and has_new_events(database)
    claim = capacity > 0 and (new_events or anything_due(database, now))
    if not (results or new_events or claim):
        return [], 0
    with database.transaction() as db:
        if results:
            record_in(db, results, now, rng)
        read = fan_out_in(db, now) if new_events else 0
        claimed = claim_in(db, box, now, capacity, config) if claim else []
    return claimed, read
