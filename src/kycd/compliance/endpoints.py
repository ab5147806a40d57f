"""``GET /v1/compliance/status/{customerId}`` (seed 000) and the tenant's
policy administration (``/v1/compliance/policy``, scope ``kyc:admin``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from kycd.api.deps import AdminCtx, DbSession, authorize
from kycd.api.rendering import json_response
from kycd.compliance import service
from kycd.compliance.config import PolicySettings
from kycd.compliance.schemas import StatusResponse
from kycd.db import Database
from kycd.errors import current_trace_id
from kycd.tenancy.scopes import Scope

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


@router.get(
    "/status/{customerId}",
    response_model=None,
    responses={
        200: {"model": StatusResponse, "description": "Compliance status retrieved successfully"}
    },
    # Read from the request below, so documented here.
    openapi_extra={
        "parameters": [
            {"name": "customerId", "in": "path", "required": True, "schema": {"type": "string"}}
        ]
    },
)
async def get_compliance_status(request: Request) -> Response:
    """Returns actionable compliance status for a customer."""
    # Integrators poll this, so it is kept cheap:
    # - the credential and the one path parameter are read from the request
    #   instead of being declared: FastAPI's resolution of declared parameters
    #   and dependencies cost more than the stored answer's read (profiled);
    #   the checks are the same (kycd.api.deps.authorize, as ReadCtx does);
    # - the stored answer is read on the event loop, one statement for all the
    #   reads of the loop's turn (a thread hop would cost more than the read);
    #   only a miss evaluates, in the thread pool, in a transaction of its own.
    ctx = await authorize(request, Scope.READ)
    customer_id: str = request.path_params["customerId"]
    database: Database = request.app.state.database
    data_json = await service.stored_answer(database, ctx, customer_id)
    if data_json is None:
        data_json = await run_in_threadpool(service.evaluated_answer, database, ctx, customer_id)
    return json_response(service.status_body_json(data_json, current_trace_id()))


@router.get("/policy", response_model=PolicySettings)
def get_policy(ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.get_policy(db, ctx)


@router.put("/policy", response_model=PolicySettings)
def update_policy(body: PolicySettings, ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.update_policy(db, ctx, body)
