"""Webhook endpoints API: ``/v1/webhooks/endpoints`` (scope ``kyc:admin``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kycd.api.deps import AdminCtx, DbSession
from kycd.api.pagination import Page, PageParams, page_params
from kycd.core.safe_http import AddressPolicy
from kycd.webhooks import service
from kycd.webhooks.rules import DeliveryStatus
from kycd.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    SecretRotation,
)
from kycd.webhooks.signing import SecretBox

router = APIRouter(prefix="/v1/webhooks/endpoints", tags=["webhooks"])


def secret_box(request: Request) -> SecretBox:
    box: SecretBox | None = getattr(request.app.state, "webhook_secret_box", None)
    if box is None:
        box = SecretBox(request.app.state.server_secret)
        request.app.state.webhook_secret_box = box
    return box


def address_policy(request: Request) -> AddressPolicy:
    return AddressPolicy(request.app.state.settings.allowed_private_networks)


Box = Annotated[SecretBox, Depends(secret_box)]
Policy = Annotated[AddressPolicy, Depends(address_policy)]
Pages = Annotated[PageParams, Depends(page_params)]


@router.post("", status_code=201, response_model=EndpointWithSecret)
def create_endpoint(
    body: EndpointCreate, ctx: AdminCtx, db: DbSession, box: Box, policy: Policy
) -> EndpointWithSecret:
    """Registers an endpoint. The signing secret is in this response only."""
    return service.create_endpoint(db, ctx, box, policy, body)


@router.get("", response_model=Page[EndpointOut])
def list_endpoints(ctx: AdminCtx, db: DbSession, page: Pages) -> Page[EndpointOut]:
    rows, total = service.list_endpoints(db, ctx, page)
    return Page[EndpointOut].build([service.to_out(e) for e in rows], page, total)


@router.get("/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: str, ctx: AdminCtx, db: DbSession) -> EndpointOut:
    return service.to_out(service.get_endpoint(db, ctx, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointOut)
def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, ctx: AdminCtx, db: DbSession, policy: Policy
) -> EndpointOut:
    return service.to_out(service.update_endpoint(db, ctx, policy, endpoint_id, body))


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, ctx: AdminCtx, db: DbSession) -> Response:
    """Deletes the endpoint with its deliveries and their attempts."""
    service.delete_endpoint(db, ctx, endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
def rotate_secret(
    endpoint_id: str, ctx: AdminCtx, db: DbSession, box: Box, body: SecretRotation | None = None
) -> EndpointWithSecret:
    """Issues a new signing secret (shown once); the old one keeps signing
    beside it for ``grace_period_seconds`` (default one day)."""
    grace = timedelta(seconds=(body or SecretRotation()).grace_period_seconds)
    return service.rotate_secret(db, ctx, box, endpoint_id, grace)


@router.get("/{endpoint_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    endpoint_id: str,
    ctx: AdminCtx,
    db: DbSession,
    page: Pages,
    status: DeliveryStatus | None = None,
    event_type: Annotated[str | None, Query(max_length=80)] = None,
) -> Page[DeliveryOut]:
    rows, total = service.list_deliveries(db, ctx, endpoint_id, page, status, event_type)
    return Page[DeliveryOut].build([service.delivery_out(d) for d in rows], page, total)


@router.get("/{endpoint_id}/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(
    endpoint_id: str, delivery_id: str, ctx: AdminCtx, db: DbSession
) -> DeliveryDetail:
    """The delivery, the exact payload sent, and every attempt."""
    delivery = service.get_delivery(db, ctx, endpoint_id, delivery_id)
    return service.delivery_detail(db, ctx, delivery)


@router.get("/{endpoint_id}/deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
def list_attempts(
    endpoint_id: str, delivery_id: str, ctx: AdminCtx, db: DbSession
) -> list[AttemptOut]:
    delivery = service.get_delivery(db, ctx, endpoint_id, delivery_id)
    return [AttemptOut.model_validate(a) for a in service.attempts_of(db, ctx, delivery.id)]


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
)
def redeliver(endpoint_id: str, delivery_id: str, ctx: AdminCtx, db: DbSession) -> DeliveryOut:
    """Sends the event again, under the same webhook-id, at the worker's next pass."""
    return service.delivery_out(service.redeliver(db, ctx, endpoint_id, delivery_id))
