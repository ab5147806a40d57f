"""Customer records: create, read, list, update, deactivate.

Every function takes the request context and scopes its queries through
:mod:`kycd.tenancy.scoping`; every change records its event in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycd.api.pagination import PageParams
from kycd.customers.models import Address, Customer, CustomerStatus
from kycd.customers.schemas import (
    AddressIn,
    AddressOut,
    CustomerCreate,
    CustomerFilters,
    CustomerOut,
    CustomerUpdate,
)
from kycd.db import utcnow
from kycd.errors import Conflict, NotFound
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped, scope_values, scoped

# Profile fields copied one to one between the API bodies and the model.
PROFILE_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "company_name",
    "date_of_birth",
    "nationality",
    "country_of_residence",
    "tax_country",
    "occupation",
    "source_of_funds",
    "incorporation_country",
    "registration_number",
    "industry",
    "email",
    "phone",
)


def search_name_of(customer: Customer) -> str:
    parts = (customer.first_name, customer.middle_name, customer.last_name, customer.company_name)
    return " ".join(p for p in parts if p).lower()


def _new_addresses(ctx: RequestContext, addresses: Iterable[AddressIn]) -> list[Address]:
    return [Address(**scope_values(ctx), **a.model_dump()) for a in addresses]


def create_customer(db: Session, ctx: RequestContext, data: CustomerCreate) -> Customer:
    existing = db.scalars(scoped(Customer, ctx).where(Customer.client_id == data.client_id)).first()
    if existing is not None:
        raise Conflict(
            f"Customer with client_id '{data.client_id}' already exists", "customer_exists"
        )
    customer = Customer(
        **scope_values(ctx),
        client_id=data.client_id,
        type=data.type.value,
        status=CustomerStatus.PENDING.value,
        extra=data.metadata or {},
        **{name: getattr(data, name) for name in PROFILE_FIELDS},
    )
    customer.search_name = search_name_of(customer)
    customer.addresses = _new_addresses(ctx, data.addresses)
    try:
        # A savepoint, so a concurrent duplicate leaves the session usable.
        with db.begin_nested():
            db.add(customer)
            db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"Customer with client_id '{data.client_id}' already exists", "customer_exists"
        ) from exc
    record_event(
        db,
        ctx,
        "applicant.created",
        customer_id=customer.id,
        payload={"customerId": customer.id, "externalUserId": customer.client_id},
    )
    return customer


def get_customer(db: Session, ctx: RequestContext, customer_id: str) -> Customer:
    return get_scoped(db, Customer, ctx, customer_id, what="Customer")


def find_by_client_id(db: Session, ctx: RequestContext, client_id: str) -> Customer | None:
    return db.scalars(scoped(Customer, ctx).where(Customer.client_id == client_id)).first()


def get_by_client_id(db: Session, ctx: RequestContext, client_id: str) -> Customer:
    customer = find_by_client_id(db, ctx, client_id)
    if customer is None:
        raise NotFound("Customer not found")
    return customer


def list_customers(
    db: Session, ctx: RequestContext, filters: CustomerFilters, page: PageParams
) -> tuple[list[Customer], int]:
    stmt = scoped(Customer, ctx)
    if filters.status is not None:
        stmt = stmt.where(Customer.status == filters.status.value)
    if filters.type is not None:
        stmt = stmt.where(Customer.type == filters.type.value)
    if filters.client_id is not None:
        stmt = stmt.where(Customer.client_id == filters.client_id)
    if filters.name:
        for token in filters.name.lower().split():
            escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(Customer.search_name.like(f"%{escaped}%", escape="\\"))
    if filters.created_from is not None:
        stmt = stmt.where(Customer.created_at >= filters.created_from)
    if filters.created_to is not None:
        stmt = stmt.where(Customer.created_at < filters.created_to)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(Customer.created_at.desc(), Customer.id.desc())
        .offset(page.offset)
        .limit(page.page_size)
    ).all()
    return list(rows), total


def update_customer(
    db: Session, ctx: RequestContext, customer_id: str, data: CustomerUpdate
) -> Customer:
    customer = get_customer(db, ctx, customer_id)
    sent = data.model_fields_set
    changed: list[str] = []
    for name in PROFILE_FIELDS:
        if name in sent and getattr(customer, name) != getattr(data, name):
            setattr(customer, name, getattr(data, name))
            changed.append(name)
    # A new address or number has not been proven; its old verification does not carry over.
    if "email" in changed and customer.email_verified:
        customer.email_verified = False
        changed.append("email_verified")
    if "phone" in changed and customer.phone_verified:
        customer.phone_verified = False
        changed.append("phone_verified")
    if "metadata" in sent and customer.extra != (data.metadata or {}):
        customer.extra = data.metadata or {}
        changed.append("metadata")
    if "addresses" in sent:
        customer.addresses = _new_addresses(ctx, data.addresses or [])
        changed.append("addresses")
    if changed:
        customer.search_name = search_name_of(customer)
        touch(customer)
        record_event(
            db,
            ctx,
            "applicant.updated",
            customer_id=customer.id,
            payload={"customerId": customer.id, "changedFields": changed},
        )
    db.flush()
    return customer


def touch(customer: Customer) -> None:
    customer.updated_at = utcnow()


def transition_status(
    db: Session,
    ctx: RequestContext,
    customer: Customer,
    *,
    allowed_from: Iterable[str],
    to: str,
    event_type: str,
    payload: dict[str, Any] | None = None,
) -> Customer:
    """Move a customer to ``to`` if, and only if, its status is still one of
    ``allowed_from`` in the database: a guarded UPDATE, so of two concurrent
    transitions exactly one wins and the other gets a 409."""
    allowed = list(allowed_from)
    previous = customer.status
    result = db.execute(
        update(Customer)
        .where(
            Customer.id == customer.id,
            Customer.tenant_id == ctx.tenant_id,
            Customer.environment == ctx.environment,
            Customer.status.in_(allowed),
        )
        .values(status=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        db.refresh(customer)
        raise Conflict(
            f"Customer status changed concurrently or is '{customer.status}'; "
            f"expected one of {', '.join(allowed)}",
            "status_conflict",
        )
    db.refresh(customer)
    record_event(
        db,
        ctx,
        event_type,
        customer_id=customer.id,
        payload={"customerId": customer.id, "from": previous, "to": to, **(payload or {})},
    )
    return customer


def deactivate_customer(db: Session, ctx: RequestContext, customer_id: str) -> Customer:
    customer = get_customer(db, ctx, customer_id)
    if customer.status == CustomerStatus.DEACTIVATED.value:
        return customer  # DELETE is idempotent: a second call changes nothing.
    active_states = [s.value for s in CustomerStatus if s is not CustomerStatus.DEACTIVATED]
    return transition_status(
        db,
        ctx,
        customer,
        allowed_from=active_states,
        to=CustomerStatus.DEACTIVATED.value,
        event_type="applicant.deactivated",
    )


def to_out(customer: Customer) -> CustomerOut:
    return CustomerOut(
        id=customer.id,
        client_id=customer.client_id,
        type=customer.type,
        status=customer.status,
        email_verified=customer.email_verified,
        phone_verified=customer.phone_verified,
        addresses=[AddressOut.model_validate(a) for a in customer.addresses],
        metadata=customer.extra,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        **{name: getattr(customer, name) for name in PROFILE_FIELDS},
    )
