"""Seed 001: ``/v1/clients`` (Fineract's dialect) and the admin API of the
PARTIAL/FULL requirements (``/v1/lifecycle/requirements``, snake_case)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from kycd.api.deps import AdminCtx, CreateCtx, DbSession, ReadCtx, UpdateCtx
from kycd.lifecycle import addresses, contacts, requirements, service
from kycd.lifecycle.fineract import FineractRoute
from kycd.lifecycle.rules import RequirementsConfig
from kycd.lifecycle.schemas import (
    AddressBody,
    AddressOut,
    AddressUpdate,
    ClientCreate,
    ClientOut,
    ClientPage,
    ClientUpdate,
    CommandBody,
    CommandResult,
    ContactsOut,
    ContactVerification,
    RequirementsOut,
)
from kycd.settings import Settings

router = APIRouter(tags=["clients"])
clients = APIRouter(prefix="/v1/clients", route_class=FineractRoute)
admin = APIRouter(prefix="/v1/lifecycle", tags=["lifecycle admin"])

CommandParam = Annotated[str | None, Query(max_length=40)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@clients.post("", response_model=CommandResult)
def create_client(body: ClientCreate, ctx: CreateCtx, db: DbSession) -> CommandResult:
    """Creates a client in status Pending (Fineract answers 200, so does kycd)."""
    return service.create_client(db, ctx, body)


@clients.get("", response_model=ClientPage)
def list_clients(
    ctx: ReadCtx,
    db: DbSession,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
    externalId: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> ClientPage:
    """Fineract's paged list; ``externalId`` finds a client by the tenant's reference."""
    return service.list_clients(db, ctx, offset=offset, limit=limit, external_id=externalId)


@clients.get("/{clientId}", response_model=ClientOut)
def get_client(clientId: str, ctx: ReadCtx, db: DbSession) -> ClientOut:
    return service.get_client(db, ctx, clientId)


@clients.put("/{clientId}", response_model=CommandResult)
def update_client(
    clientId: str, body: ClientUpdate, ctx: UpdateCtx, db: DbSession
) -> CommandResult:
    return service.update_client(db, ctx, clientId, body)


@clients.post("/{clientId}", response_model=CommandResult)
def client_command(
    clientId: str,
    ctx: UpdateCtx,
    db: DbSession,
    request: Request,
    command: CommandParam = None,
    body: Annotated[CommandBody | None, Body()] = None,
) -> CommandResult:
    """``?command=verify`` (with ``kycVerificationType``), ``activate``, ``reject``,
    ``withdraw``, ``close``, ``reactivate``, ``undoRejection``, ``undoWithdrawal``."""
    return service.run_command(
        db, ctx, _settings(request), clientId, command, body or CommandBody()
    )


@clients.get("/{clientId}/addresses", response_model=list[AddressOut])
def list_addresses(clientId: str, ctx: ReadCtx, db: DbSession) -> list[AddressOut]:
    return [addresses.to_out(a) for a in addresses.list_addresses(db, ctx, clientId)]


@clients.post("/{clientId}/addresses", response_model=AddressOut)
def add_address(clientId: str, body: AddressBody, ctx: UpdateCtx, db: DbSession) -> AddressOut:
    return addresses.to_out(addresses.add_address(db, ctx, clientId, body))


@clients.put("/{clientId}/addresses", response_model=AddressOut)
def update_address_fineract(
    clientId: str, body: AddressUpdate, ctx: UpdateCtx, db: DbSession
) -> AddressOut:
    """Fineract's form: the address id travels in the body (``addressId``)."""
    address_id = addresses.resolve_address_id(None, body)
    return addresses.to_out(addresses.update_address(db, ctx, clientId, address_id, body)[0])


@clients.put("/{clientId}/addresses/{addressId}", response_model=AddressOut)
def update_address(
    clientId: str, addressId: str, body: AddressUpdate, ctx: UpdateCtx, db: DbSession
) -> AddressOut:
    address_id = addresses.resolve_address_id(addressId, body)
    return addresses.to_out(addresses.update_address(db, ctx, clientId, address_id, body)[0])


@clients.get("/{clientId}/contacts", response_model=ContactsOut)
def get_contacts(clientId: str, ctx: ReadCtx, db: DbSession) -> ContactsOut:
    return contacts.get_contacts(db, ctx, clientId)


@clients.post("/{clientId}/contacts", response_model=CommandResult)
def verify_contact(
    clientId: str,
    body: ContactVerification,
    ctx: UpdateCtx,
    db: DbSession,
    command: CommandParam = None,
) -> CommandResult:
    """``?command=verifyEmail`` or ``?command=verifyMobile``: the tenant attests
    that it proved control of the address or number named in the body."""
    return contacts.verify_contact(db, ctx, clientId, command, body)


@admin.get("/requirements", response_model=RequirementsOut)
def get_requirements(ctx: AdminCtx, db: DbSession, request: Request) -> RequirementsOut:
    return requirements.get_requirements(db, ctx, _settings(request))


@admin.put("/requirements", response_model=RequirementsOut)
def set_requirements(
    body: RequirementsConfig, ctx: AdminCtx, db: DbSession, request: Request
) -> RequirementsOut:
    return requirements.set_requirements(db, ctx, _settings(request), body)


@admin.delete("/requirements", response_model=RequirementsOut)
def reset_requirements(ctx: AdminCtx, db: DbSession, request: Request) -> RequirementsOut:
    """Drops the tenant's own requirements: the file or the defaults apply again."""
    return requirements.reset_requirements(db, ctx, _settings(request))


router.include_router(clients)
router.include_router(admin)
