"""Clients (seed 001): create, read, update, and the lifecycle commands.

The client is the customer row every surface shares; this module adds
Fineract's view of it and the verify gate. Commands are guarded transitions
(:func:`kycd.customers.service.transition_status`) recorded as events in the
same transaction; ``verify`` and ``activate`` first evaluate the PARTIAL/FULL
requirements (:mod:`kycd.lifecycle.rules`) and answer 403 with one error per
unmet rule, changing nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycd.customers import service as customers
from kycd.customers.models import Customer, CustomerStatus, CustomerType
from kycd.customers.schemas import AddressIn, CustomerCreate, CustomerUpdate
from kycd.db import new_id, utcnow
from kycd.documents.service import list_documents
from kycd.errors import BadRequest, Conflict, FieldError, ValidationFailed
from kycd.events.service import record_event
from kycd.identifiers.service import list_identifiers
from kycd.lifecycle import fineract
from kycd.lifecycle.config import effective_config
from kycd.lifecycle.fineract import DomainRuleViolation, domain_rule
from kycd.lifecycle.models import ClientLifecycle
from kycd.lifecycle.rules import (
    GATED_COMMANDS,
    TRANSITIONS,
    AddressFact,
    ClientFacts,
    Command,
    DocumentFact,
    IdentifierFact,
    KycVerificationType,
    Plan,
    Violation,
    plan_command,
    unmet_requirements,
)
from kycd.lifecycle.schemas import (
    AddressBody,
    ClientCreate,
    ClientOut,
    ClientPage,
    ClientUpdate,
    CommandBody,
    CommandResult,
    EnumOption,
    LegalForm,
    LegalFormOut,
    SubStatus,
    Timeline,
)
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.scoping import scope_values, scoped


def today() -> date:
    return utcnow().date()


# --- the lifecycle row -------------------------------------------------------


def find_lifecycle(db: Session, customer: Customer) -> ClientLifecycle | None:
    return db.get(ClientLifecycle, customer.id)


def lifecycle_of(db: Session, ctx: RequestContext, customer: Customer) -> ClientLifecycle:
    """The client's lifecycle row, created on first use (customers created
    through another surface have none yet)."""
    row = find_lifecycle(db, customer)
    if row is not None:
        return row
    row = ClientLifecycle(
        **scope_values(ctx),
        customer_id=customer.id,
        submitted_on=customer.created_at.date(),
        updated_at=utcnow(),
    )
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        # Another request created it first; theirs is as good as ours.
        found = db.get(ClientLifecycle, customer.id, populate_existing=True)
        assert found is not None
        return found
    return row


# --- create, read, update ----------------------------------------------------


def _address_in(body: AddressBody) -> AddressIn:
    return AddressIn(
        type=body.addressType,
        is_primary=body.isPrimary,
        line1=body.addressLine1,
        line2=body.addressLine2,
        line3=body.addressLine3,
        city=body.city,
        postal_code=body.postalCode,
        state=body.stateProvince,
        country=body.countryCode,
    )


def create_client(db: Session, ctx: RequestContext, data: ClientCreate) -> CommandResult:
    if data.active:
        raise domain_rule(
            "error.msg.client.activation.requires.verification",
            "A client is created Pending; activate it with ?command=activate once verified.",
            "active",
        )
    entity = data.legal_form is LegalForm.ENTITY
    if entity and not data.fullname:
        raise ValidationFailed([FieldError("fullname", "is required for an ENTITY")])
    if not entity and not (data.firstname and data.lastname):
        missing = [n for n in ("firstname", "lastname") if not getattr(data, n)]
        raise ValidationFailed([FieldError(n, "is required for a PERSON") for n in missing])
    customer = customers.create_customer(
        db,
        ctx,
        CustomerCreate(
            # Fineract's externalId is optional; kycd's client_id is not.
            client_id=data.externalId or new_id(),
            type=CustomerType.BUSINESS if entity else CustomerType.INDIVIDUAL,
            first_name=data.firstname,
            middle_name=data.middlename,
            last_name=data.lastname,
            company_name=data.fullname,
            date_of_birth=data.dateOfBirth,
            email=data.emailAddress,
            phone=data.mobileNo,
            addresses=[_address_in(a) for a in data.address],
        ),
    )
    db.add(
        ClientLifecycle(
            **scope_values(ctx),
            customer_id=customer.id,
            submitted_on=data.submittedOnDate or today(),
            updated_at=utcnow(),
        )
    )
    db.flush()
    return CommandResult(
        clientId=customer.id, resourceId=customer.id, resourceExternalId=customer.client_id
    )


def _display_name(customer: Customer) -> str:
    if customer.type == CustomerType.BUSINESS.value and customer.company_name:
        return customer.company_name
    parts = (customer.first_name, customer.middle_name, customer.last_name)
    return " ".join(p for p in parts if p) or customer.client_id


def _legal_form(customer: Customer) -> LegalFormOut:
    if customer.type == CustomerType.BUSINESS.value:
        return LegalFormOut(id=2, code="legalFormType.entity", value="ENTITY")
    return LegalFormOut(id=1, code="legalFormType.person", value="PERSON")


def to_client_out(customer: Customer, row: ClientLifecycle | None) -> ClientOut:
    level = row.kyc_verification_type if row else None
    verified = level is not None and customer.status in {
        CustomerStatus.VERIFIED,
        CustomerStatus.ACTIVE,
    }
    sub_status = fineract.sub_status_option(verified)
    return ClientOut(
        id=customer.id,
        externalId=customer.client_id,
        status=EnumOption(**fineract.status_option(customer.status)),
        subStatus=SubStatus(**sub_status) if sub_status else None,
        kycVerificationType=KycVerificationType(level) if verified and level else None,
        active=customer.status == CustomerStatus.ACTIVE.value,
        activationDate=row.activated_on if row else None,
        legalForm=_legal_form(customer),
        firstname=customer.first_name,
        middlename=customer.middle_name,
        lastname=customer.last_name,
        fullname=customer.company_name,
        displayName=_display_name(customer),
        dateOfBirth=customer.date_of_birth,
        emailAddress=customer.email,
        emailVerified=customer.email_verified,
        mobileNo=customer.phone,
        mobileNoVerified=customer.phone_verified,
        timeline=Timeline(
            submittedOnDate=row.submitted_on if row else customer.created_at.date(),
            verifiedOnDate=row.verified_on if row else None,
            activatedOnDate=row.activated_on if row else None,
            rejectedOnDate=row.rejected_on if row else None,
            withdrawnOnDate=row.withdrawn_on if row else None,
            closedOnDate=row.closed_on if row else None,
            reactivatedOnDate=row.reactivated_on if row else None,
        ),
    )


def get_client(db: Session, ctx: RequestContext, client_id: str) -> ClientOut:
    customer = customers.get_customer(db, ctx, client_id)
    return to_client_out(customer, find_lifecycle(db, customer))


def list_clients(
    db: Session, ctx: RequestContext, *, offset: int, limit: int, external_id: str | None
) -> ClientPage:
    """Fineract's ``GET /clients``: oldest first, ``offset``/``limit`` paging."""
    stmt = scoped(Customer, ctx)
    if external_id is not None:
        stmt = stmt.where(Customer.client_id == external_id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(Customer.created_at, Customer.id).offset(offset).limit(limit)
    ).all()
    ids = [c.id for c in rows]
    lifecycles = {
        r.customer_id: r
        for r in db.scalars(select(ClientLifecycle).where(ClientLifecycle.customer_id.in_(ids)))
    }
    return ClientPage(
        totalFilteredRecords=total,
        pageItems=[to_client_out(c, lifecycles.get(c.id)) for c in rows],
    )


def verification_level(db: Session, ctx: RequestContext, customer_id: str) -> str | None:
    """The KYC level (PARTIAL or FULL) the customer passed, while it is verified
    or active; None otherwise. For other domains (compliance, risk)."""
    customer = customers.get_customer(db, ctx, customer_id)
    if customer.status not in {CustomerStatus.VERIFIED, CustomerStatus.ACTIVE}:
        return None
    row = find_lifecycle(db, customer)
    return row.kyc_verification_type if row else None


# Fineract name -> customer attribute.
_UPDATABLE = {
    "firstname": "first_name",
    "middlename": "middle_name",
    "lastname": "last_name",
    "fullname": "company_name",
    "dateOfBirth": "date_of_birth",
    "emailAddress": "email",
    "mobileNo": "phone",
}


def update_client(
    db: Session, ctx: RequestContext, client_id: str, data: ClientUpdate
) -> CommandResult:
    customer = customers.get_customer(db, ctx, client_id)
    sent = [n for n in _UPDATABLE if n in data.model_fields_set]
    before = {n: getattr(customer, _UPDATABLE[n]) for n in sent}
    customers.update_customer(
        db,
        ctx,
        customer.id,
        CustomerUpdate(**{_UPDATABLE[n]: getattr(data, n) for n in sent}),
    )
    changes: dict[str, Any] = {}
    for name in sent:
        after = getattr(customer, _UPDATABLE[name])
        if after != before[name]:
            changes[name] = after.isoformat() if isinstance(after, date) else after
    return CommandResult(
        clientId=customer.id,
        resourceId=customer.id,
        resourceExternalId=customer.client_id,
        changes=changes,
    )


# --- facts for the rules -----------------------------------------------------


def gather_facts(db: Session, ctx: RequestContext, customer: Customer) -> ClientFacts:
    return ClientFacts(
        addresses=[AddressFact(a.type, a.is_primary, a.line1) for a in customer.addresses],
        identifiers=[
            IdentifierFact(i.document_type, i.status, i.expiry_date)
            for i in list_identifiers(db, ctx, customer.id)
        ],
        documents=[
            DocumentFact(d.type, d.review_status, d.expiry_date)
            for d in list_documents(db, ctx, customer.id)
        ],
        email=customer.email,
        email_verified=customer.email_verified,
        mobile=customer.phone,
        mobile_verified=customer.phone_verified,
        date_of_birth=customer.date_of_birth,
    )


def unmet_for(
    db: Session,
    ctx: RequestContext,
    settings: Settings,
    customer: Customer,
    level: KycVerificationType,
) -> list[Violation]:
    """The requirements of ``level`` the client misses, under its tenant's config."""
    tenant = db.get(Tenant, ctx.tenant_id)
    config, _source = effective_config(tenant.settings if tenant else {}, settings)
    return unmet_requirements(
        gather_facts(db, ctx, customer),
        config.requirements_for(level),
        today=today(),
        accept_unreviewed_documents=config.accept_unreviewed_documents,
    )


# --- commands ----------------------------------------------------------------

_DATE_COLUMNS = {
    Command.VERIFY: "verified_on",
    Command.ACTIVATE: "activated_on",
    Command.REJECT: "rejected_on",
    Command.WITHDRAW: "withdrawn_on",
    Command.CLOSE: "closed_on",
    Command.REACTIVATE: "reactivated_on",
    Command.UNDO_REJECTION: "reactivated_on",
    Command.UNDO_WITHDRAWAL: "reactivated_on",
}
# What a return to Pending clears: the client must pass the gate again.
_CLEARED_ON_REOPEN = {
    "kyc_verification_type": None,
    "verified_on": None,
    "activated_on": None,
    "closed_on": None,
    "rejected_on": None,
    "withdrawn_on": None,
}


def parse_command(value: str | None) -> Command:
    if value is None:
        raise BadRequest("command is required", field="command")
    try:
        return Command(value)
    except ValueError as exc:
        known = ", ".join(c.value for c in Command)
        raise BadRequest(f"unknown command '{value}' (known: {known})", field="command") from exc


def _business_date(command: Command, body: CommandBody, row: ClientLifecycle) -> date:
    """The command's own date field (default today); other commands' date fields
    and a kycVerificationType outside verify are refused."""
    own = TRANSITIONS[command].date_field
    stray = [
        f
        for f in CommandBody.date_fields
        if f != own and getattr(body, f) is not None and f in body.model_fields_set
    ]
    if body.kycVerificationType is not None and command is not Command.VERIFY:
        stray.append("kycVerificationType")
    if stray:
        raise ValidationFailed(
            [FieldError(f, f"is not a parameter of command {command.value}") for f in stray]
        )
    value: date | None = getattr(body, own)
    if value is None:
        return today()
    if value > today():
        raise BadRequest("must not be in the future", field=own)
    if row.submitted_on is not None and value < row.submitted_on:
        raise BadRequest(
            f"must not be before the submitted-on date {row.submitted_on.isoformat()}", field=own
        )
    return value


def run_command(
    db: Session,
    ctx: RequestContext,
    settings: Settings,
    client_id: str,
    command_name: str | None,
    body: CommandBody,
) -> CommandResult:
    command = parse_command(command_name)
    if command is Command.VERIFY and body.kycVerificationType is None:
        raise BadRequest(
            "kycVerificationType is required: PARTIAL or FULL", field="kycVerificationType"
        )
    customer = customers.get_customer(db, ctx, client_id)
    row = lifecycle_of(db, ctx, customer)
    # A malformed request is a 400 whatever the client's state.
    on = _business_date(command, body, row)
    plan = plan_command(
        command, customer.status, row.kyc_verification_type, body.kycVerificationType
    )
    if isinstance(plan, Violation):
        raise DomainRuleViolation([plan], plan.message)
    if command in GATED_COMMANDS:
        assert plan.level is not None
        _gate(db, ctx, settings, customer, command, plan.level)
    if plan.upgrade:
        changes = _upgrade_level(db, ctx, customer, row, plan, on, body.note)
    else:
        changes = _transition(db, ctx, customer, row, plan, on, body)
    return CommandResult(
        clientId=customer.id,
        resourceId=customer.id,
        resourceExternalId=customer.client_id,
        changes=changes,
    )


def _gate(
    db: Session,
    ctx: RequestContext,
    settings: Settings,
    customer: Customer,
    command: Command,
    level: KycVerificationType,
) -> None:
    violations = unmet_for(db, ctx, settings, customer, level)
    if not violations:
        return
    if command is Command.VERIFY:
        summary = (
            f"The client does not meet the {level.value} verification requirements: "
            f"{len(violations)} rule(s) unmet."
        )
    else:
        summary = (
            f"The client no longer meets the {level.value} verification requirements "
            f"it was verified against: {len(violations)} rule(s) unmet."
        )
    raise DomainRuleViolation(violations, summary)


def _transition(
    db: Session,
    ctx: RequestContext,
    customer: Customer,
    row: ClientLifecycle,
    plan: Plan,
    on: date,
    body: CommandBody,
) -> dict[str, Any]:
    command = plan.command
    payload: dict[str, Any] = {"command": command.value, plan.transition.date_field: on.isoformat()}
    if plan.level is not None:
        payload["kycVerificationType"] = plan.level.value
    if body.note:
        payload["note"] = body.note
    customers.transition_status(
        db,
        ctx,
        customer,
        allowed_from=plan.transition.allowed_from,
        to=plan.transition.to,
        event_type=plan.transition.event_type,
        payload=payload,
    )
    values: dict[str, Any] = {}
    if plan.transition.to == CustomerStatus.PENDING:
        values.update(_CLEARED_ON_REOPEN)
    values[_DATE_COLUMNS[command]] = on
    if command is Command.VERIFY:
        assert plan.level is not None
        values["kyc_verification_type"] = plan.level.value
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    db.flush()
    changes: dict[str, Any] = {
        "status": fineract.status_option(customer.status),
        plan.transition.date_field: on.isoformat(),
    }
    if command is Command.VERIFY:
        changes["subStatus"] = fineract.sub_status_option(True)
        changes["kycVerificationType"] = values["kyc_verification_type"]
    return changes


def _upgrade_level(
    db: Session,
    ctx: RequestContext,
    customer: Customer,
    row: ClientLifecycle,
    plan: Plan,
    on: date,
    note: str | None,
) -> dict[str, Any]:
    """PARTIAL -> FULL for a client already verified: the status stays, the level
    rises, guarded like a transition so that two upgrades make one."""
    assert plan.level is not None
    previous = row.kyc_verification_type
    result = db.execute(
        update(ClientLifecycle)
        .where(
            ClientLifecycle.customer_id == customer.id,
            ClientLifecycle.kyc_verification_type == previous,
        )
        .values(kyc_verification_type=plan.level.value, verified_on=on, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("The client's verification changed concurrently", "status_conflict")
    db.refresh(row)
    payload: dict[str, Any] = {
        "customerId": customer.id,
        "from": customer.status,
        "to": customer.status,
        "command": Command.VERIFY.value,
        "kycVerificationType": plan.level.value,
        "previousKycVerificationType": previous,
        "verificationDate": on.isoformat(),
    }
    if note:
        payload["note"] = note
    record_event(db, ctx, plan.transition.event_type, customer_id=customer.id, payload=payload)
    return {
        "kycVerificationType": plan.level.value,
        "subStatus": fineract.sub_status_option(True),
        "verificationDate": on.isoformat(),
    }
