"""Client identifiers: add, list, read, delete.

Numbers are validated with python-stdnum, sealed with the key ring and shown
only masked. Duplicates are found through a keyed hash (``key_index``): one
client holds one identifier per type and issuing country, and one number of a
type belongs to one client of a tenant.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycd.customers.service import get_customer
from kycd.db import new_id, utcnow
from kycd.errors import BadRequest
from kycd.events.service import record_event
from kycd.identifiers.crypto import KeyRing, associated_data, blind_index
from kycd.identifiers.models import Identifier
from kycd.identifiers.schemas import IdentifierCreate, IdentifierOut
from kycd.identifiers.types import US_ONLY
from kycd.identifiers.validation import InvalidNumber, check_number, last_chars
from kycd.lifecycle.fineract import domain_rule
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped, rows_by_customer, scope_values, scoped


def list_identifiers(db: Session, ctx: RequestContext, customer_id: str) -> list[Identifier]:
    """A client's identifiers, oldest first (rows carry only the masked number)."""
    return identifiers_by_customer(db, ctx, [customer_id])[customer_id]


def identifiers_by_customer(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, list[Identifier]]:
    return rows_by_customer(db, Identifier, ctx, customer_ids, Identifier.created_at, Identifier.id)


def get_identifier(
    db: Session, ctx: RequestContext, customer_id: str, identifier_id: str
) -> Identifier:
    return get_scoped(
        db, Identifier, ctx, identifier_id, what="Identifier", customer_id=customer_id
    )


def _issuing_country(data: IdentifierCreate) -> str:
    if data.documentType in US_ONLY:
        if data.issuingCountry not in (None, "US"):
            raise BadRequest(
                f"{data.documentType.value} is issued by the US only", field="issuingCountry"
            )
        return "US"
    if data.issuingCountry is None:
        raise BadRequest(
            f"issuingCountry is required for {data.documentType.value}", field="issuingCountry"
        )
    return data.issuingCountry


def client_identifiers(db: Session, ctx: RequestContext, client_id: str) -> list[Identifier]:
    """The identifiers of a client that must exist (404 otherwise)."""
    return list_identifiers(db, ctx, get_customer(db, ctx, client_id).id)


def add_identifier(
    db: Session,
    ctx: RequestContext,
    client_id: str,
    data: IdentifierCreate,
    ring: KeyRing,
    index_key: bytes,
) -> Identifier:
    customer = get_customer(db, ctx, client_id)
    country = _issuing_country(data)
    try:
        number = check_number(data.documentType, country, data.documentKey).compact
    except InvalidNumber as exc:
        raise BadRequest(str(exc), field="documentKey") from exc
    key_index = blind_index(index_key, data.documentType.value, country, number)
    _refuse_duplicates(db, ctx, customer.id, data, country, key_index)

    identifier_id = new_id()
    aad = associated_data(identifier_id, ctx.tenant_id, ctx.environment, data.documentType.value)
    key_id, ciphertext = ring.encrypt(number, aad)
    now = utcnow()
    identifier = Identifier(
        **scope_values(ctx),
        id=identifier_id,
        customer_id=customer.id,
        document_type=data.documentType.value,
        issuing_country=country,
        expiry_date=data.expiryDate,
        description=data.description,
        status=data.status.value,
        key_ciphertext=ciphertext,
        key_id=key_id,
        key_index=key_index,
        key_last4=last_chars(number),
        created_at=now,
        updated_at=now,
    )
    try:
        with db.begin_nested():
            db.add(identifier)
            db.flush()
    except IntegrityError as exc:
        # A concurrent request added the same number or type first.
        raise domain_rule(
            "error.msg.clientIdentifier.duplicate",
            "An identifier of this type or with this number already exists.",
            "documentKey",
        ) from exc
    record_event(
        db,
        ctx,
        "applicant.identifier_added",
        customer_id=customer.id,
        payload={
            "customerId": customer.id,
            "identifierId": identifier.id,
            "documentType": identifier.document_type,
            "issuingCountry": country,
        },
    )
    return identifier


def _refuse_duplicates(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    data: IdentifierCreate,
    country: str,
    key_index: str,
) -> None:
    same_type = db.scalars(
        scoped(Identifier, ctx).where(
            Identifier.customer_id == customer_id,
            Identifier.document_type == data.documentType.value,
            Identifier.issuing_country == country,
        )
    ).first()
    if same_type is not None:
        raise domain_rule(
            "error.msg.clientIdentifier.type.duplicate",
            f"The client already has a {data.documentType.value} issued by {country}; "
            "delete it before adding another.",
            "documentType",
        )
    same_number = db.scalars(
        scoped(Identifier, ctx).where(
            Identifier.document_type == data.documentType.value,
            Identifier.key_index == key_index,
        )
    ).first()
    if same_number is not None:
        raise domain_rule(
            "error.msg.clientIdentifier.documentKey.duplicate",
            f"This {data.documentType.value} number is already registered to another client.",
            "documentKey",
        )


def delete_identifier(
    db: Session, ctx: RequestContext, customer_id: str, identifier_id: str
) -> Identifier:
    identifier = get_identifier(db, ctx, customer_id, identifier_id)
    db.delete(identifier)
    db.flush()
    record_event(
        db,
        ctx,
        "applicant.identifier_deleted",
        customer_id=customer_id,
        payload={
            "customerId": customer_id,
            "identifierId": identifier.id,
            "documentType": identifier.document_type,
        },
    )
    return identifier


def reveal_number(ring: KeyRing, identifier: Identifier) -> str:
    """The clear number, for kycd's own use (re-encryption, provider checks);
    no API response carries it."""
    aad = associated_data(
        identifier.id, identifier.tenant_id, identifier.environment, identifier.document_type
    )
    return ring.decrypt(identifier.key_id, identifier.key_ciphertext, aad)


def to_out(identifier: Identifier, today: date) -> IdentifierOut:
    return IdentifierOut(
        id=identifier.id,
        clientId=identifier.customer_id,
        documentType=identifier.document_type,
        documentKey=identifier.masked_key,
        issuingCountry=identifier.issuing_country,
        expiryDate=identifier.expiry_date,
        expired=identifier.is_expired(today),
        description=identifier.description,
        status=identifier.status,
        createdOn=identifier.created_at,
    )


def count_by_key(db: Session) -> dict[str, int]:
    """How many values each key seals, across every tenant (operator tooling)."""
    from sqlalchemy import func

    rows = db.execute(select(Identifier.key_id, func.count()).group_by(Identifier.key_id))
    return {key_id: count for key_id, count in rows.tuples()}
