"""Webhook endpoints per tenant and environment: registration, changes, secret
rotation, the delivery log and redelivery. Delivery itself is the worker's
(kycd.webhooks.delivery); nothing here sends a request.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from kycd.api.pagination import PageParams
from kycd.core.safe_http import AddressPolicy, check_url, resolve
from kycd.db import utcnow
from kycd.errors import BadRequest, Conflict
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped, scope_values, scoped
from kycd.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from kycd.webhooks.rules import AttemptOutcome, DeliveryStatus, DisabledReason, EndpointStatus
from kycd.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
)
from kycd.webhooks.signing import SecretBox, new_signing_secret

SYSTEM_ACTOR = "system"


def _operator_allowed(host: str, policy: AddressPolicy) -> bool:
    try:
        addresses = resolve(host, 80)
    except OSError:
        return False
    return bool(addresses) and all(
        any(_unmapped(a) in net for net in policy.allowed) for a in addresses
    )


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress._BaseAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def validate_url(url: str, policy: AddressPolicy) -> str:
    """Refuse non-public targets now, with a clear 400; the worker checks the
    address again on every connection. Plain http is accepted only for hosts in
    a range the operator allowed (a receiver on the same private network)."""
    try:
        check_url(url, policy, require_https=False)
    except ValueError as exc:
        raise BadRequest(str(exc), field="url") from exc
    parts = urlsplit(url)
    if parts.scheme == "http" and not _operator_allowed(parts.hostname or "", policy):
        raise BadRequest("must be an https URL", field="url")
    return url


def _unique_types(event_types: list[str]) -> list[str]:
    return list(dict.fromkeys(event_types))


def to_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut.model_validate(endpoint)


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**to_out(endpoint).model_dump(), secret=secret)


def create_endpoint(
    db: Session, ctx: RequestContext, box: SecretBox, policy: AddressPolicy, data: EndpointCreate
) -> EndpointWithSecret:
    secret = new_signing_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        **scope_values(ctx),
        url=validate_url(data.url, policy),
        description=data.description,
        event_types=_unique_types(data.event_types),
        status=EndpointStatus.ENABLED.value,
        secret_sealed=box.seal(secret),
        created_at=now,
        updated_at=now,
    )
    db.add(endpoint)
    db.flush()
    record_event(
        db,
        ctx,
        "admin.webhook_endpoint_created",
        payload={"endpoint_id": endpoint.id, "url": endpoint.url, "event_types": data.event_types},
    )
    return _with_secret(endpoint, secret)


def get_endpoint(db: Session, ctx: RequestContext, endpoint_id: str) -> WebhookEndpoint:
    return get_scoped(db, WebhookEndpoint, ctx, endpoint_id, what="Webhook endpoint")


def list_endpoints(
    db: Session, ctx: RequestContext, page: PageParams
) -> tuple[list[WebhookEndpoint], int]:
    stmt = scoped(WebhookEndpoint, ctx)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id)
        .offset(page.offset)
        .limit(page.page_size)
    ).all()
    return list(rows), total


def update_endpoint(
    db: Session,
    ctx: RequestContext,
    policy: AddressPolicy,
    endpoint_id: str,
    data: EndpointUpdate,
) -> WebhookEndpoint:
    endpoint = get_endpoint(db, ctx, endpoint_id)
    changed = data.model_fields_set
    if "url" in changed:
        if data.url is None:
            raise BadRequest("url cannot be removed", field="url")
        endpoint.url = validate_url(data.url, policy)
    if "event_types" in changed:
        if data.event_types is None:
            raise BadRequest("event_types cannot be removed", field="event_types")
        endpoint.event_types = _unique_types(data.event_types)
    if "description" in changed:
        endpoint.description = data.description or ""
    if "status" in changed and data.status is not None and data.status.value != endpoint.status:
        if data.status is EndpointStatus.ENABLED:
            endpoint.status = EndpointStatus.ENABLED.value
            endpoint.disabled_reason = None
            endpoint.disabled_at = None
            # A fresh start: days of failures before the tenant fixed the
            # receiver must not disable it again at the first new failure.
            endpoint.failing_since = None
        else:
            endpoint.status = EndpointStatus.DISABLED.value
            endpoint.disabled_reason = DisabledReason.MANUAL.value
            endpoint.disabled_at = utcnow()
    endpoint.updated_at = utcnow()
    db.flush()
    record_event(
        db,
        ctx,
        "admin.webhook_endpoint_updated",
        payload={"endpoint_id": endpoint.id, "changed": sorted(changed), "status": endpoint.status},
    )
    return endpoint


def delete_endpoint(db: Session, ctx: RequestContext, endpoint_id: str) -> None:
    endpoint = get_endpoint(db, ctx, endpoint_id)
    # Deliveries and attempts go with it (ON DELETE CASCADE), on both backends;
    # deleted explicitly so SQLite needs no foreign-key pragma to be right.
    delivery_ids = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
    db.execute(
        delete(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .execution_options(synchronize_session=False)
    )
    db.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .execution_options(synchronize_session=False)
    )
    db.delete(endpoint)
    db.flush()
    record_event(
        db,
        ctx,
        "admin.webhook_endpoint_deleted",
        payload={"endpoint_id": endpoint_id, "url": endpoint.url},
    )


def rotate_secret(
    db: Session, ctx: RequestContext, box: SecretBox, endpoint_id: str, grace: timedelta
) -> EndpointWithSecret:
    """A new secret signs from now on; the current one keeps signing beside it
    until the grace period ends, so receivers can switch without losing a
    webhook. Only two secrets exist at a time: rotating again during a grace
    period retires the oldest at once."""
    endpoint = get_endpoint(db, ctx, endpoint_id)
    secret = new_signing_secret()
    now = utcnow()
    if grace > timedelta(0):
        endpoint.previous_secret_sealed = endpoint.secret_sealed
        endpoint.previous_secret_expires_at = now + grace
    else:
        endpoint.previous_secret_sealed = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_sealed = box.seal(secret)
    endpoint.updated_at = now
    db.flush()
    record_event(
        db,
        ctx,
        "admin.webhook_secret_rotated",
        payload={
            "endpoint_id": endpoint.id,
            "grace_period_seconds": int(grace.total_seconds()),
        },
    )
    return _with_secret(endpoint, secret)


def disable_endpoint(
    db: Session,
    tenant_id: str,
    environment: str,
    endpoint_id: str,
    reason: DisabledReason,
    now: datetime,
) -> bool:
    """Disable an enabled endpoint (the worker's decision after a 410 or days of
    failures); the event says why. False when it was already disabled."""
    result = db.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.status == EndpointStatus.ENABLED.value,
        )
        .values(
            status=EndpointStatus.DISABLED.value,
            disabled_reason=reason.value,
            disabled_at=now,
            updated_at=now,
        )
    )
    if not getattr(result, "rowcount", 0):
        return False
    url = db.scalar(select(WebhookEndpoint.url).where(WebhookEndpoint.id == endpoint_id))
    record_event(
        db,
        RequestContext(tenant_id, environment, actor_type=SYSTEM_ACTOR),
        "admin.webhook_endpoint_disabled",
        payload={"endpoint_id": endpoint_id, "url": url, "reason": reason.value},
        at=now,
    )
    return True


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    pending = delivery.status == DeliveryStatus.PENDING.value
    return DeliveryOut(
        id=delivery.id,
        webhook_id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.next_attempt_at if pending else None,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        completed_at=delivery.completed_at,
    )


def list_deliveries(
    db: Session,
    ctx: RequestContext,
    endpoint_id: str,
    page: PageParams,
    status: DeliveryStatus | None,
    event_type: str | None,
) -> tuple[list[WebhookDelivery], int]:
    endpoint = get_endpoint(db, ctx, endpoint_id)
    stmt = scoped(WebhookDelivery, ctx).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status.value)
    if event_type is not None:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .offset(page.offset)
        .limit(page.page_size)
    ).all()
    return list(rows), total


def get_delivery(
    db: Session, ctx: RequestContext, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    return get_scoped(
        db, WebhookDelivery, ctx, delivery_id, what="Webhook delivery", endpoint_id=endpoint_id
    )


def attempts_of(db: Session, ctx: RequestContext, delivery_id: str) -> list[WebhookAttempt]:
    return list(
        db.scalars(
            scoped(WebhookAttempt, ctx)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.number, WebhookAttempt.started_at)
        ).all()
    )


def delivery_detail(db: Session, ctx: RequestContext, delivery: WebhookDelivery) -> DeliveryDetail:
    attempts = [AttemptOut.model_validate(a) for a in attempts_of(db, ctx, delivery.id)]
    return DeliveryDetail(
        **delivery_out(delivery).model_dump(), payload=json.loads(delivery.body), attempts=attempts
    )


def redeliver(
    db: Session, ctx: RequestContext, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    """Queue one more round of attempts, at once and with a fresh schedule, under
    the same webhook-id. Allowed whatever the delivery's state, except while an
    attempt is in flight (409): two concurrent attempts would race."""
    endpoint = get_endpoint(db, ctx, endpoint_id)
    if endpoint.status != EndpointStatus.ENABLED.value:
        raise Conflict("Enable the webhook endpoint before redelivering", "endpoint_disabled")
    delivery = get_delivery(db, ctx, endpoint_id, delivery_id)
    now = utcnow()
    result = db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            or_(WebhookDelivery.lease_token.is_(None), WebhookDelivery.next_attempt_at <= now),
        )
        .values(
            status=DeliveryStatus.PENDING.value,
            next_attempt_at=now,
            failed_in_row=0,
            completed_at=None,
            manual_request=True,
            # A lease past its end belongs to a worker that vanished: taken over
            # here, so that worker's late result (if any) cannot undo this.
            lease_token=None,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise Conflict("An attempt of this delivery is in progress", "delivery_in_progress")
    db.execute(
        update(WebhookAttempt)
        .where(
            WebhookAttempt.delivery_id == delivery.id,
            WebhookAttempt.outcome == AttemptOutcome.IN_PROGRESS.value,
        )
        .values(
            outcome=AttemptOutcome.ABANDONED.value,
            finished_at=now,
            error="the worker stopped before the attempt finished",
        )
        .execution_options(synchronize_session=False)
    )
    record_event(
        db,
        ctx,
        "admin.webhook_redelivery_requested",
        payload={"endpoint_id": endpoint_id, "delivery_id": delivery.id},
    )
    db.refresh(delivery)
    return delivery
