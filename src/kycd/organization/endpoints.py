"""``/v1/customers/{id}/organization`` (seed 003): the organisation structure
of a business customer, and the writes that build it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kycd.api.deps import AdminCtx, DbSession, ReadCtx, UpdateCtx
from kycd.organization import service
from kycd.organization.schemas import (
    OrganizationOut,
    OrganizationSettings,
    OrganizationSettingsOut,
    OwnershipCreate,
    OwnershipOut,
    OwnershipUpdate,
    PartyCreate,
    PartyOut,
    PartyUpdate,
)

router = APIRouter(prefix="/v1", tags=["organization"])
ORG = "/customers/{customer_id}/organization"


@router.get(ORG, response_model=OrganizationOut)
def get_organization(customer_id: str, ctx: ReadCtx, db: DbSession) -> OrganizationOut:
    return service.get_organization(db, ctx, customer_id)


@router.post(ORG + "/parties", status_code=201, response_model=PartyOut)
def add_party(customer_id: str, body: PartyCreate, ctx: UpdateCtx, db: DbSession) -> PartyOut:
    return service.add_party(db, ctx, customer_id, body)


@router.patch(ORG + "/parties/{party_id}", response_model=PartyOut)
def update_party(
    customer_id: str, party_id: str, body: PartyUpdate, ctx: UpdateCtx, db: DbSession
) -> PartyOut:
    return service.update_party(db, ctx, customer_id, party_id, body)


@router.delete(ORG + "/parties/{party_id}", status_code=204)
def remove_party(customer_id: str, party_id: str, ctx: UpdateCtx, db: DbSession) -> Response:
    service.remove_party(db, ctx, customer_id, party_id)
    return Response(status_code=204)


@router.post(ORG + "/ownership", status_code=201, response_model=OwnershipOut)
def add_ownership(
    customer_id: str, body: OwnershipCreate, ctx: UpdateCtx, db: DbSession
) -> OwnershipOut:
    return service.add_ownership(db, ctx, customer_id, body)


@router.patch(ORG + "/ownership/{ownership_id}", response_model=OwnershipOut)
def update_ownership(
    customer_id: str, ownership_id: str, body: OwnershipUpdate, ctx: UpdateCtx, db: DbSession
) -> OwnershipOut:
    return service.update_ownership(db, ctx, customer_id, ownership_id, body)


@router.delete(ORG + "/ownership/{ownership_id}", status_code=204)
def remove_ownership(
    customer_id: str, ownership_id: str, ctx: UpdateCtx, db: DbSession
) -> Response:
    service.remove_ownership(db, ctx, customer_id, ownership_id)
    return Response(status_code=204)


@router.get("/organization/settings", response_model=OrganizationSettingsOut)
def get_organization_settings(ctx: AdminCtx, db: DbSession) -> OrganizationSettingsOut:
    return service.get_settings(db, ctx)


@router.put("/organization/settings", response_model=OrganizationSettingsOut)
def put_organization_settings(
    body: OrganizationSettings, ctx: AdminCtx, db: DbSession
) -> OrganizationSettingsOut:
    return service.put_settings(db, ctx, body)
