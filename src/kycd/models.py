"""Imports every model so that SQLAlchemy's metadata (and Alembic) sees them all.
Add a domain's models here, nowhere else."""

from kycd.checks.models import UserCheck
from kycd.compliance.models import ComplianceProjection
from kycd.customers.models import Address, Customer
from kycd.db import Base
from kycd.events.models import Event
from kycd.idempotency.models import IdempotencyRecord
from kycd.organization.models import OwnershipEdge, RelatedParty
from kycd.risk.models import RiskProfile, RiskProfileHistory
from kycd.tenancy.models import Credential, Tenant
from kycd.verification.models import VerificationLevel, VerificationSession, VerificationStep

__all__ = [
    "Address",
    "Base",
    "ComplianceProjection",
    "Credential",
    "Customer",
    "Event",
    "IdempotencyRecord",
    "OwnershipEdge",
    "RelatedParty",
    "RiskProfile",
    "RiskProfileHistory",
    "Tenant",
    "UserCheck",
    "VerificationLevel",
    "VerificationSession",
    "VerificationStep",
]
