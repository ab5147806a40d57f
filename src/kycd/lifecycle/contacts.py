"""Contact verification: the only way ``email_verified`` and ``phone_verified``
become true.

The tenant attests that it proved control of an address or number (its
one-time-code check passed, a magic link was followed, an operator checked by
hand) and names the value it proved. The flag is set by a guarded UPDATE that
also requires the stored value to still be that value, so an attestation for
an address changed in the meantime verifies nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from kycd.customers import service as customers
from kycd.customers.models import Customer
from kycd.db import utcnow
from kycd.errors import BadRequest
from kycd.events.service import record_event
from kycd.lifecycle.fineract import domain_rule
from kycd.lifecycle.schemas import CommandResult, ContactsOut, ContactVerification
from kycd.lifecycle.service import find_lifecycle, lifecycle_of
from kycd.tenancy.context import RequestContext


@dataclass(frozen=True)
class _Channel:
    command: str
    body_field: str  # Fineract's name, also the parameterName of errors
    value: InstrumentedAttribute[str | None]
    flag: InstrumentedAttribute[bool]
    event_type: str
    code_part: str
    row_prefix: str  # ClientLifecycle columns <prefix>_verified_at, <prefix>_verification_method
    out_flag: str


_CHANNELS = {
    c.command: c
    for c in (
        _Channel(
            "verifyEmail",
            "emailAddress",
            Customer.email,
            Customer.email_verified,
            "applicant.email_verified",
            "email",
            "email",
            "emailVerified",
        ),
        _Channel(
            "verifyMobile",
            "mobileNo",
            Customer.phone,
            Customer.phone_verified,
            "applicant.phone_verified",
            "mobile",
            "mobile",
            "mobileNoVerified",
        ),
    )
}


def get_contacts(db: Session, ctx: RequestContext, client_id: str) -> ContactsOut:
    customer = customers.get_customer(db, ctx, client_id)
    row = find_lifecycle(db, customer)
    email_on = row.email_verified_at if row and customer.email_verified else None
    mobile_on = row.mobile_verified_at if row and customer.phone_verified else None
    return ContactsOut(
        clientId=customer.id,
        emailAddress=customer.email,
        emailVerified=customer.email_verified,
        emailVerifiedOn=email_on,
        emailVerificationMethod=row.email_verification_method if email_on and row else None,
        mobileNo=customer.phone,
        mobileNoVerified=customer.phone_verified,
        mobileNoVerifiedOn=mobile_on,
        mobileNoVerificationMethod=row.mobile_verification_method if mobile_on and row else None,
    )


def _channel(command: str | None) -> _Channel:
    if command is None or command not in _CHANNELS:
        known = ", ".join(_CHANNELS)
        raise BadRequest(f"command must be one of {known}", field="command")
    return _CHANNELS[command]


def verify_contact(
    db: Session,
    ctx: RequestContext,
    client_id: str,
    command: str | None,
    body: ContactVerification,
) -> CommandResult:
    channel = _channel(command)
    attested: str | None = getattr(body, channel.body_field)
    if attested is None:
        raise BadRequest(
            f"{channel.body_field} is required: the value whose control was proven",
            field=channel.body_field,
        )
    customer = customers.get_customer(db, ctx, client_id)
    result_base = {"clientId": customer.id, "resourceId": customer.id}
    stored: str | None = getattr(customer, channel.value.key)
    if stored is None:
        raise domain_rule(
            f"error.msg.client.contact.{channel.code_part}.missing",
            f"The client has no {channel.body_field} to verify.",
            channel.body_field,
        )
    if stored != attested:
        raise domain_rule(
            f"error.msg.client.contact.{channel.code_part}.mismatch",
            f"The attested {channel.body_field} is not the client's current one.",
            channel.body_field,
        )
    if getattr(customer, channel.flag.key):
        return CommandResult(**result_base, resourceExternalId=customer.client_id)
    now = utcnow()
    guard: list[ColumnElement[bool]] = [
        Customer.id == customer.id,
        Customer.tenant_id == ctx.tenant_id,
        Customer.environment == ctx.environment,
        channel.value == attested,
        channel.flag.is_(False),
    ]
    result = db.execute(
        update(Customer)
        .where(*guard)
        .values({channel.flag.key: True, "updated_at": now})
        .execution_options(synchronize_session=False)
    )
    db.refresh(customer)
    if getattr(result, "rowcount", 0) != 1:
        if getattr(customer, channel.flag.key) and getattr(customer, channel.value.key) == attested:
            # A concurrent attestation of the same value won; the outcome is the same.
            return CommandResult(**result_base, resourceExternalId=customer.client_id)
        raise domain_rule(
            f"error.msg.client.contact.{channel.code_part}.mismatch",
            f"The client's {channel.body_field} changed while it was being verified.",
            channel.body_field,
        )
    row = lifecycle_of(db, ctx, customer)
    setattr(row, f"{channel.row_prefix}_verified_at", now)
    setattr(row, f"{channel.row_prefix}_verification_method", body.verificationMethod.value)
    row.updated_at = now
    db.flush()
    record_event(
        db,
        ctx,
        channel.event_type,
        customer_id=customer.id,
        payload={
            "customerId": customer.id,
            "verificationMethod": body.verificationMethod.value,
        },
    )
    return CommandResult(
        **result_base,
        resourceExternalId=customer.client_id,
        changes={channel.out_flag: True},
    )
