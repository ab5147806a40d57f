"""Imports every model so that SQLAlchemy's metadata (and Alembic) sees them all.
Add a domain's models here, nowhere else."""

from kycd.customers.models import Address, Customer
from kycd.db import Base
from kycd.events.models import Event
from kycd.idempotency.models import IdempotencyRecord
from kycd.screening.models import Hit, ListVersion, Monitor, RescreenTask, Watchlist
from kycd.tenancy.models import Credential, Tenant
from kycd.verification.models import VerificationSession

__all__ = [
    "Address",
    "Base",
    "Credential",
    "Customer",
    "Event",
    "Hit",
    "IdempotencyRecord",
    "ListVersion",
    "Monitor",
    "RescreenTask",
    "Tenant",
    "VerificationSession",
    "Watchlist",
]
