"""``GET /v1/compliance/status/{customerId}`` (seed 000) and the tenant's
policy administration (``/v1/compliance/policy``, scope ``kyc:admin``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kycd.api.deps import AdminCtx, DbSession, ReadCtx
from kycd.compliance import service
from kycd.compliance.config import PolicySettings
from kycd.compliance.schemas import StatusResponse, status_body
from kycd.db import Database
from kycd.errors import current_trace_id

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


@router.get(
    "/status/{customerId}",
    response_model=None,
    responses={
        200: {"model": StatusResponse, "description": "Compliance status retrieved successfully"}
    },
)
def get_compliance_status(
    customerId: str, ctx: ReadCtx, db: DbSession, request: Request
) -> JSONResponse:
    """Returns actionable compliance status for a customer."""
    read = service.read_status(db, ctx, customerId)
    if read.stale:
        # GETs run on a read-only session; the change is recorded in its own
        # short transaction (rare: only when the status moved since last seen).
        database: Database = request.app.state.database
        with database.transaction() as write_db:
            service.sync_projection(
                write_db, ctx, read.customer_id, read.result, read.evaluated_at, read.seen
            )
    return JSONResponse(status_body(read.result, current_trace_id()))


@router.get("/policy", response_model=PolicySettings)
def get_policy(ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.get_policy(db, ctx)


@router.put("/policy", response_model=PolicySettings)
def update_policy(body: PolicySettings, ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.update_policy(db, ctx, body)
