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

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kycd.core.safe_http import is_blocked_error
from kycd.db import Database, is_postgres
from kycd.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
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
    created_at: datetime


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


def _signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    current = box.open(endpoint.secret_sealed)
    previous = endpoint.previous_secret_sealed
    expires = endpoint.previous_secret_expires_at
    if previous and expires is not None and expires > now:
        return (current, box.open(previous))
    return (current,)


def claim_due(
    database: Database, box: SecretBox, now: datetime, limit: int, config: DeliveryConfig
) -> list[Claimed]:
    if limit <= 0:
        return []
    with database.transaction() as db:
        stmt = (
            select(WebhookDelivery, WebhookEndpoint)
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
        stale = [d.id for d, _ in rows if d.lease_token is not None]
        if stale:
            db.execute(
                update(WebhookAttempt)
                .where(
                    WebhookAttempt.delivery_id.in_(stale),
                    WebhookAttempt.outcome == AttemptOutcome.IN_PROGRESS.value,
                )
                .values(
                    outcome=AttemptOutcome.ABANDONED.value,
                    finished_at=now,
                    error="the worker stopped before the attempt finished",
                )
            )
        claimed = []
        for delivery, endpoint in rows:
            token = secrets.token_hex(16)
            delivery.lease_token = token
            delivery.next_attempt_at = now + config.lease
            delivery.attempt_count += 1
            delivery.last_attempt_at = now
            attempt = WebhookAttempt(
                tenant_id=delivery.tenant_id,
                environment=delivery.environment,
                delivery_id=delivery.id,
                number=delivery.attempt_count,
                trigger="manual" if delivery.manual_request else "scheduled",
                outcome=AttemptOutcome.IN_PROGRESS.value,
                started_at=now,
            )
            delivery.manual_request = False
            db.add(attempt)
            claimed.append((delivery, endpoint, token, attempt))
        db.flush()
        return [
            Claimed(
                delivery_id=delivery.id,
                lease_token=token,
                attempt_id=attempt.id,
                endpoint_id=endpoint.id,
                tenant_id=delivery.tenant_id,
                environment=delivery.environment,
                url=endpoint.url,
                body=delivery.body,
                signing_secrets=_signing_secrets(box, endpoint, now),
                created_at=delivery.created_at,
            )
            for delivery, endpoint, token, attempt in claimed
        ]


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
    if status_code is not None:
        error = _status_error(status_code)
    latency_ms = round((time.perf_counter() - started) * 1000)
    return AttemptResult(claimed, status_code, latency_ms, error, sent_at)


def record_results(
    database: Database, results: Sequence[AttemptResult], now: datetime, rng: random.Random
) -> None:
    """Write back a batch of attempts and decide what comes next for each."""
    if not results:
        return
    with database.transaction() as db:
        succeeded_endpoints: set[str] = set()
        failed_endpoints: dict[str, tuple[str, str]] = {}
        gone_endpoints: dict[str, tuple[str, str]] = {}
        for result in results:
            claimed = result.claimed
            outcome = result.outcome
            db.execute(
                update(WebhookAttempt)
                .where(WebhookAttempt.id == claimed.attempt_id)
                .values(
                    outcome=(
                        AttemptOutcome.SUCCEEDED.value
                        if outcome is Outcome.SUCCEEDED
                        else AttemptOutcome.FAILED.value
                    ),
                    finished_at=now,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                )
            )
            delivery = db.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.id == claimed.delivery_id,
                    WebhookDelivery.lease_token == claimed.lease_token,
                )
            ).first()
            scope = (claimed.tenant_id, claimed.environment)
            if outcome is Outcome.SUCCEEDED:
                succeeded_endpoints.add(claimed.endpoint_id)
            elif outcome is Outcome.GONE:
                gone_endpoints[claimed.endpoint_id] = scope
            else:
                failed_endpoints[claimed.endpoint_id] = scope
            if delivery is None:
                # A redelivery request took the row over; its own attempt decides.
                continue
            _advance(delivery, result, now, rng)
        _update_endpoints(db, succeeded_endpoints, failed_endpoints, gone_endpoints, now)


def _advance(
    delivery: WebhookDelivery, result: AttemptResult, now: datetime, rng: random.Random
) -> None:
    delivery.lease_token = None
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    outcome = result.outcome
    if outcome is Outcome.SUCCEEDED:
        delivery.status = DeliveryStatus.SUCCEEDED.value
        delivery.completed_at = now
        delivery.failed_in_row = 0
        return
    if outcome is Outcome.GONE:
        delivery.status = DeliveryStatus.FAILED.value
        delivery.completed_at = now
        return
    delivery.failed_in_row += 1
    delay = retry_delay(delivery.failed_in_row, rng)
    if delay is None:
        delivery.status = DeliveryStatus.FAILED.value
        delivery.completed_at = now
    else:
        delivery.next_attempt_at = now + delay


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
