"""Imports every model so that SQLAlchemy's metadata (and Alembic) sees them all.
Add a domain's models here, nowhere else."""

from kycd.checks.models import UserCheck
from kycd.compliance.models import ComplianceProjection
from kycd.console.models import LoginFailure, Operator, OperatorSession, ReviewAssignment
from kycd.customers.models import Address, Customer
from kycd.db import Base
from kycd.documents.models import Document
from kycd.events.models import Event
from kycd.hosted.models import DocumentFingerprint, HostedCheckResult, HostedConsent
from kycd.idempotency.models import IdempotencyRecord
from kycd.identifiers.models import Identifier
from kycd.lifecycle.models import ClientLifecycle
from kycd.organization.models import OwnershipEdge, RelatedParty
from kycd.risk.models import RiskProfile, RiskProfileHistory
from kycd.screening.models import Hit, ListVersion, Monitor, RescreenTask, Watchlist
from kycd.tenancy.models import Credential, Tenant
from kycd.verification.models import VerificationLevel, VerificationSession, VerificationStep
from kycd.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookOutboxCursor,
)

__all__ = [
    "Address",
    "Base",
    "ClientLifecycle",
    "ComplianceProjection",
    "Credential",
    "Customer",
    "Document",
    "DocumentFingerprint",
    "Event",
    "Hit",
    "HostedCheckResult",
    "HostedConsent",
    "IdempotencyRecord",
    "Identifier",
    "ListVersion",
    "LoginFailure",
    "Monitor",
    "Operator",
    "OperatorSession",
    "OwnershipEdge",
    "RelatedParty",
    "RescreenTask",
    "ReviewAssignment",
    "RiskProfile",
    "RiskProfileHistory",
    "Tenant",
    "UserCheck",
    "VerificationLevel",
    "VerificationSession",
    "VerificationStep",
    "Watchlist",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookOutboxCursor",
]
