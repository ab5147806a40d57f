"""Creating and listing verification sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from kycd.customers import service as customers
from kycd.customers.models import Customer, CustomerType
from kycd.customers.schemas import CustomerCreate
from kycd.db import utcnow
from kycd.errors import BadRequest
from kycd.events.service import record_event
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scope_values, scoped
from kycd.verification.models import SessionStatus, VerificationSession
from kycd.verification.schemas import SessionCreate, SessionOut

# The level a session runs when the request names none.
DEFAULT_LEVEL_FOR_TYPE = {
    CustomerType.INDIVIDUAL.value: "KYC_01",
    CustomerType.BUSINESS.value: "KYB_01",
}
KNOWN_LEVELS = {"KYC_01": timedelta(days=7), "KYB_01": timedelta(days=14)}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _resolve_or_create_customer(db: Session, ctx: RequestContext, data: SessionCreate) -> Customer:
    if data.customer_id:
        customer = customers.get_customer(db, ctx, data.customer_id)
        if data.client_id and data.client_id != customer.client_id:
            raise BadRequest("client_id does not belong to customer_id", field="client_id")
        return customer
    assert data.client_id is not None  # the schema requires one of the two
    found = customers.find_by_client_id(db, ctx, data.client_id)
    if found is not None:
        return found
    # Seed 003: "If a customer with the client_id doesn't exist, it will be auto-created."
    return customers.create_customer(
        db, ctx, CustomerCreate(client_id=data.client_id, type=data.customer_type)
    )


def create_session(
    db: Session, ctx: RequestContext, settings: Settings, data: SessionCreate
) -> SessionOut:
    if data.level_name is not None and data.level_name not in KNOWN_LEVELS:
        raise BadRequest(f"unknown level '{data.level_name}'", field="level_name")
    customer = _resolve_or_create_customer(db, ctx, data)
    level_name = data.level_name or DEFAULT_LEVEL_FOR_TYPE[customer.type]
    token = secrets.token_urlsafe(32)
    now = utcnow()
    run = VerificationSession(
        **scope_values(ctx),
        customer_id=customer.id,
        level_name=level_name,
        status=SessionStatus.CREATED.value,
        token_hash=hash_token(token),
        redirect_url=str(data.redirect_url) if data.redirect_url else None,
        expires_at=now + KNOWN_LEVELS[level_name],
        created_at=now,
        updated_at=now,
    )
    db.add(run)
    db.flush()
    record_event(
        db,
        ctx,
        "enrollment.created",
        customer_id=customer.id,
        payload={"sessionId": run.id, "levelName": level_name},
    )
    out = to_out(run, customer)
    out.verification_url = f"{settings.public_base_url.rstrip('/')}/verify/{token}"
    return out


def list_sessions(db: Session, ctx: RequestContext, customer_id: str) -> list[SessionOut]:
    customer = customers.get_customer(db, ctx, customer_id)
    runs = db.scalars(
        scoped(VerificationSession, ctx)
        .where(VerificationSession.customer_id == customer.id)
        .order_by(VerificationSession.created_at.desc(), VerificationSession.id.desc())
    ).all()
    return [to_out(run, customer) for run in runs]


def to_out(run: VerificationSession, customer: Customer) -> SessionOut:
    return SessionOut(
        id=run.id,
        customer_id=customer.id,
        client_id=customer.client_id,
        level_name=run.level_name,
        status=run.status,
        expires_at=run.expires_at,
        created_at=run.created_at,
        updated_at=run.updated_at,
        completed_at=run.completed_at,
    )
