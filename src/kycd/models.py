"""Imports every model so that SQLAlchemy's metadata (and Alembic) sees them all.
Add a domain's models here, nowhere else."""

from kycd.console.models import LoginFailure, Operator, OperatorSession
from kycd.customers.models import Address, Customer
from kycd.db import Base
from kycd.events.models import Event
from kycd.idempotency.models import IdempotencyRecord
from kycd.tenancy.models import Credential, Tenant
from kycd.verification.models import VerificationSession

__all__ = [
    "Address",
    "Base",
    "Credential",
    "Customer",
    "Event",
    "IdempotencyRecord",
    "LoginFailure",
    "Operator",
    "OperatorSession",
    "Tenant",
    "VerificationSession",
]
