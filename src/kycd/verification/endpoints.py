"""``POST /v1/sessions`` and ``GET /v1/customers/{id}/sessions`` (seed 003)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kycd.api.deps import CreateCtx, DbSession, ReadCtx
from kycd.verification import service
from kycd.verification.schemas import SessionCreate, SessionOut

router = APIRouter(prefix="/v1", tags=["sessions"])


class SessionList(BaseModel):
    data: list[SessionOut]


@router.post("/sessions", status_code=201, response_model=SessionOut)
def create_session(
    body: SessionCreate, ctx: CreateCtx, db: DbSession, request: Request
) -> SessionOut:
    return service.create_session(db, ctx, request.app.state.settings, body)


@router.get("/customers/{customer_id}/sessions", response_model=SessionList)
def list_customer_sessions(customer_id: str, ctx: ReadCtx, db: DbSession) -> SessionList:
    return SessionList(data=service.list_sessions(db, ctx, customer_id))
