"""Customer records: create, read, list, update, deactivate.

Every function takes the request context and scopes its queries through
:mod:`kycd.tenancy.scoping`; every change records its event in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycd.api.pagination import PageParams
from kycd.api.rendering import json_text
from kycd.core.coalesced_reads import one_of
from kycd.customers.models import ADDRESS_ORDER, Address, Customer, CustomerStatus
from kycd.customers.schemas import (
    AddressIn,
    AddressOut,
    CustomerCreate,
    CustomerFilters,
    CustomerOut,
    CustomerUpdate,
)
from kycd.db import Database, utcnow
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
    # Addresses are shown oldest first (ADDRESS_ORDER). Those sent together get
    # a microsecond each, so every read shows them in the order they were sent.
    now = utcnow()
    return [
        Address(**scope_values(ctx), **a.model_dump(), created_at=now + timedelta(microseconds=i))
        for i, a in enumerate(addresses)
    ]


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


# CustomerOut's fields, each with the Customer attribute it shows (the column
# "metadata" is the attribute "extra": SQLAlchemy's models keep "metadata").
_SHOWN = {
    field: "extra" if field == "metadata" else field
    for field in CustomerOut.model_fields
    if field != "addresses"
}
_ADDRESS_SHOWN = tuple(AddressOut.model_fields)


def to_out(customer: Customer) -> CustomerOut:
    return _out(
        {field: getattr(customer, attribute) for field, attribute in _SHOWN.items()},
        [{name: getattr(a, name) for name in _ADDRESS_SHOWN} for a in customer.addresses],
    )


def _out(fields: dict[str, Any], addresses: list[dict[str, Any]]) -> CustomerOut:
    return CustomerOut(**fields, addresses=[AddressOut(**address) for address in addresses])


# GET /v1/customers/{id}, the second hottest read: the customer and its
# addresses in one statement, shared with the other reads of the event loop's
# turn (kycd.core.coalesced_reads), without a session or a thread hop. The
# addresses come in the order of Customer.addresses.
_VIEW_STATEMENT = (
    select(
        Customer.id,
        *(getattr(Customer, attribute) for attribute in _SHOWN.values()),
        *(getattr(Address, name) for name in _ADDRESS_SHOWN),
    )
    .outerjoin(Address, Address.customer_id == Customer.id)
    .where(
        one_of(Customer.id, "customer_ids"),
        Customer.tenant_id == bindparam("tenant_id"),
        Customer.environment == bindparam("environment"),
    )
    .order_by(*ADDRESS_ORDER)
)


async def customer_json(database: Database, ctx: RequestContext, customer_id: str) -> str | None:
    """The customer's JSON as ``GET /v1/customers/{id}`` answers it; None when
    the database could not be read this way (the caller then reads with a
    session of its own: :func:`customer_json_with_session`)."""
    read = database.coalesced(_VIEW_STATEMENT, "customer_ids")
    rows = await read.rows_if_read(
        customer_id, tenant_id=ctx.tenant_id, environment=ctx.environment
    )
    if rows is None:
        return None
    if not rows:
        raise NotFound("Customer not found")
    shown = len(_SHOWN)
    address_id = shown + _ADDRESS_SHOWN.index("id")
    fields = dict(zip(_SHOWN, rows[0][:shown], strict=True))
    addresses = [
        dict(zip(_ADDRESS_SHOWN, row[shown:], strict=True))
        for row in rows
        if row[address_id] is not None  # the outer join's row of a customer without addresses
    ]
    return json_text(_out(fields, addresses).model_dump(mode="json"))


def customer_json_with_session(database: Database, ctx: RequestContext, customer_id: str) -> str:
    with database.session(read_only=True) as db:
        return json_text(to_out(get_customer(db, ctx, customer_id)).model_dump(mode="json"))
