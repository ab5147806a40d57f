"""Customers API, seed 003: ``/v1/customers``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kycd.api.deps import CreateCtx, DbSession, ReadCtx, UpdateCtx
from kycd.api.hot_reads import path_parameter, read_json
from kycd.api.pagination import Page, PageParams, page_params
from kycd.api.rendering import json_response
from kycd.customers import service
from kycd.customers.models import CustomerStatus, CustomerType
from kycd.customers.schemas import CustomerCreate, CustomerFilters, CustomerOut, CustomerUpdate

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post("", status_code=201, response_model=CustomerOut)
def create_customer(body: CustomerCreate, ctx: CreateCtx, db: DbSession) -> CustomerOut:
    return service.to_out(service.create_customer(db, ctx, body))


@router.get("", response_model=Page[CustomerOut])
def list_customers(
    ctx: ReadCtx,
    db: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
    status: CustomerStatus | None = None,
    type: CustomerType | None = None,
    client_id: Annotated[str | None, Query(max_length=128)] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> Page[CustomerOut]:
    filters = CustomerFilters(
        status=status,
        type=type,
        client_id=client_id,
        name=name,
        created_from=created_from,
        created_to=created_to,
    )
    rows, total = service.list_customers(db, ctx, filters, page)
    return Page[CustomerOut].build([service.to_out(c) for c in rows], page, total)


@router.get(
    "/{customer_id}",
    response_model=None,
    responses={200: {"model": CustomerOut, "description": "Successful Response"}},
    openapi_extra=path_parameter("customer_id"),
)
async def get_customer(request: Request) -> Response:
    # Polled by integrators, so read as the compliance status is: one
    # statement on the event loop, shared by the loop's other reads.
    body = await read_json(
        request,
        "customer_id",
        "Customer",
        service.customer_json,
        service.customer_json_with_session,
    )
    return json_response(body)


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(
    customer_id: str, body: CustomerUpdate, ctx: UpdateCtx, db: DbSession
) -> CustomerOut:
    return service.to_out(service.update_customer(db, ctx, customer_id, body))


@router.delete("/{customer_id}", response_model=CustomerOut)
def deactivate_customer(customer_id: str, ctx: UpdateCtx, db: DbSession) -> CustomerOut:
    """Deactivates the customer; all its data is kept."""
    return service.to_out(service.deactivate_customer(db, ctx, customer_id))
