"""``/v1/clients/{clientId}/addresses``: the customer's addresses (the same
``addresses`` table the Customers API serves), in Fineract's names.

A client has at most one primary address: making one primary demotes the other.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from kycd.customers import service as customers
from kycd.customers.models import Address, Customer
from kycd.db import utcnow
from kycd.errors import BadRequest
from kycd.events.service import record_event
from kycd.lifecycle.schemas import AddressBody, AddressOut, AddressUpdate
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped, scope_values, scoped

# Fineract name -> Address attribute.
_FIELDS = {
    "addressType": "type",
    "isPrimary": "is_primary",
    "addressLine1": "line1",
    "addressLine2": "line2",
    "addressLine3": "line3",
    "city": "city",
    "postalCode": "postal_code",
    "stateProvince": "state",
    "countryCode": "country",
}


def list_addresses(db: Session, ctx: RequestContext, customer_id: str) -> list[Address]:
    customers.get_customer(db, ctx, customer_id)
    stmt = (
        scoped(Address, ctx)
        .where(Address.customer_id == customer_id)
        .order_by(Address.created_at, Address.id)
    )
    return list(db.scalars(stmt).all())


def _demote_other_primaries(db: Session, ctx: RequestContext, customer_id: str, keep: str) -> None:
    db.execute(
        update(Address)
        .where(
            Address.tenant_id == ctx.tenant_id,
            Address.environment == ctx.environment,
            Address.customer_id == customer_id,
            Address.id != keep,
            Address.is_primary.is_(True),
        )
        .values(is_primary=False, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def _value(name: str, value: object) -> object:
    return value.value if name == "addressType" and value is not None else value  # type: ignore[attr-defined]


def add_address(db: Session, ctx: RequestContext, customer_id: str, body: AddressBody) -> Address:
    customer = customers.get_customer(db, ctx, customer_id)
    now = utcnow()
    address = Address(
        **scope_values(ctx),
        customer_id=customer.id,
        created_at=now,
        updated_at=now,
        **{attr: _value(name, getattr(body, name)) for name, attr in _FIELDS.items()},
    )
    # Through the collection, so that subscribers reading ``customer.addresses``
    # in this transaction (risk's residence) see the new address.
    customer.addresses.append(address)
    db.flush()
    if address.is_primary:
        _demote_other_primaries(db, ctx, customer.id, address.id)
    _changed(db, ctx, customer, "applicant.address_added", address, list(_FIELDS))
    return address


def update_address(
    db: Session, ctx: RequestContext, customer_id: str, address_id: str, body: AddressUpdate
) -> tuple[Address, list[str]]:
    customer = customers.get_customer(db, ctx, customer_id)
    address = get_scoped(db, Address, ctx, address_id, what="Address", customer_id=customer.id)
    changed: list[str] = []
    for name, attr in _FIELDS.items():
        if name not in body.model_fields_set:
            continue
        value = _value(name, getattr(body, name))
        if getattr(address, attr) != value:
            setattr(address, attr, value)
            changed.append(name)
    if changed:
        address.updated_at = utcnow()
        db.flush()
        if "isPrimary" in changed and address.is_primary:
            _demote_other_primaries(db, ctx, customer.id, address.id)
        _changed(db, ctx, customer, "applicant.address_updated", address, changed)
    return address, changed


def resolve_address_id(path_id: str | None, body: AddressUpdate) -> str:
    """Fineract sends the address id in the body; kycd also takes it in the path."""
    address_id = path_id or body.addressId
    if address_id is None:
        raise BadRequest("addressId is required", field="addressId")
    if path_id and body.addressId and body.addressId != path_id:
        raise BadRequest("addressId does not match the path", field="addressId")
    return address_id


def _changed(
    db: Session,
    ctx: RequestContext,
    customer: Customer,
    event_type: str,
    address: Address,
    fields: list[str],
) -> None:
    customers.touch(customer)
    record_event(
        db,
        ctx,
        event_type,
        customer_id=customer.id,
        # Field names, never the address itself.
        payload={
            "customerId": customer.id,
            "addressId": address.id,
            "isPrimary": address.is_primary,
            "changedFields": fields,
        },
    )


def to_out(address: Address) -> AddressOut:
    return AddressOut(
        addressId=address.id,
        clientId=address.customer_id,
        addressType=address.type.upper(),
        isPrimary=address.is_primary,
        addressLine1=address.line1,
        addressLine2=address.line2,
        addressLine3=address.line3,
        city=address.city,
        postalCode=address.postal_code,
        stateProvince=address.state,
        countryCode=address.country,
        createdOn=address.created_at,
        updatedOn=address.updated_at,
    )
