"""``GET /v1/compliance/status/{customerId}`` (seed 000) and the tenant's
policy administration (``/v1/compliance/policy``, scope ``kyc:admin``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from kycd.api.deps import AdminCtx, DbSession
from kycd.api.hot_reads import path_parameter, read_json
from kycd.api.rendering import json_response
from kycd.compliance import service
from kycd.compliance.config import PolicySettings
from kycd.compliance.schemas import StatusResponse
from kycd.errors import current_trace_id

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


@router.get(
    "/status/{customerId}",
    response_model=None,
    responses={
        200: {"model": StatusResponse, "description": "Compliance status retrieved successfully"}
    },
    openapi_extra=path_parameter("customerId"),
)
async def get_compliance_status(request: Request) -> Response:
    """Returns actionable compliance status for a customer."""
    # Integrators poll this, so it is kept cheap (kycd.api.hot_reads): the
    # stored answer is read on the event loop, one statement for the reads of
    # the loop's turn; only a miss evaluates, in the thread pool, in a
    # transaction of its own.
    data_json = await read_json(
        request, "customerId", "Customer", service.stored_answer, service.evaluated_answer
    )
    return json_response(service.status_body_json(data_json, current_trace_id()))


@router.get("/policy", response_model=PolicySettings)
def get_policy(ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.get_policy(db, ctx)


@router.put("/policy", response_model=PolicySettings)
def update_policy(body: PolicySettings, ctx: AdminCtx, db: DbSession) -> PolicySettings:
    return service.update_policy(db, ctx, body)
