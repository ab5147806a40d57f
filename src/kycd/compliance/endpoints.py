"""``GET /v1/compliance/status/{customerId}`` (seed 000) and the tenant's
policy administration (``/v1/compliance/policy``, scope ``kyc:admin``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from kycd.api.deps import AdminCtx, DbSession, ReadCtx
from kycd.compliance import service
from kycd.compliance.config import PolicySettings
from kycd.compliance.schemas import StatusResponse
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
async def get_compliance_status(customerId: str, ctx: ReadCtx, request: Request) -> Response:
    """Returns actionable compliance status for a customer."""
    # Integrators poll this: the stored answer is read on the event loop with
    # one prepared statement (a thread hop would cost more than the read); only
    # a miss evaluates, in the thread pool, in a transaction of its own.
    database: Database = request.app.state.database
    data_json = service.stored_answer(database, ctx, customerId)
    if data_json is None:
        data_json = await run_in_threadpool(service.evaluated_answer, database, ctx, customerId)
    return Response(
        service.status_body_json(data_json, current_trace_id()), media_type="application/json"
    )


@router.get("/policy", response_model=PolicySettings)
def get_policy(ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.get_policy(db, ctx)


@router.put("/policy", response_model=PolicySettings)
def update_policy(body: PolicySettings, ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.update_policy(db, ctx, body)
