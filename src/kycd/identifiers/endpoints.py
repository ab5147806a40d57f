"""``/v1/clients/{clientId}/identifiers`` (seed 001, Fineract's dialect)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from kycd.api.deps import DbSession, ReadCtx, UpdateCtx
from kycd.identifiers import service
from kycd.identifiers.crypto import index_key, load_keyring
from kycd.identifiers.schemas import IdentifierCreate, IdentifierOut
from kycd.lifecycle.fineract import FineractRoute
from kycd.lifecycle.schemas import CommandResult
from kycd.lifecycle.service import today

router = APIRouter(
    prefix="/v1/clients/{clientId}/identifiers", tags=["clients"], route_class=FineractRoute
)


@router.post("", response_model=CommandResult)
def add_identifier(
    clientId: str, body: IdentifierCreate, ctx: UpdateCtx, db: DbSession, request: Request
) -> CommandResult:
    identifier = service.add_identifier(
        db,
        ctx,
        clientId,
        body,
        load_keyring(request.app.state.settings),
        index_key(request.app.state.server_secret),
    )
    return CommandResult(clientId=identifier.customer_id, resourceId=identifier.id)


@router.get("", response_model=list[IdentifierOut])
def list_identifiers(clientId: str, ctx: ReadCtx, db: DbSession) -> list[IdentifierOut]:
    on = today()
    return [service.to_out(i, on) for i in service.client_identifiers(db, ctx, clientId)]


@router.get("/{identifierId}", response_model=IdentifierOut)
def get_identifier(clientId: str, identifierId: str, ctx: ReadCtx, db: DbSession) -> IdentifierOut:
    return service.to_out(service.get_identifier(db, ctx, clientId, identifierId), today())


@router.delete("/{identifierId}", response_model=CommandResult)
def delete_identifier(
    clientId: str, identifierId: str, ctx: UpdateCtx, db: DbSession
) -> CommandResult:
    identifier = service.delete_identifier(db, ctx, clientId, identifierId)
    return CommandResult(clientId=identifier.customer_id, resourceId=identifier.id)
