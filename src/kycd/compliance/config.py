"""A tenant's compliance policy: ``Tenant.settings["compliance"]``.

Stored as the admin API's body (:class:`PolicySettings`, snake_case)::

    {"required": {"DOC_PROOF_OF_ADDRESS": "always", "OCCUPATION": "never"},
     "kyc_validity_months": 24, "document_review_required": false}

A check type missing from ``required`` follows its documented "required when"
condition (``default``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from kycd.compliance.policy import CheckType, PolicyConfig, Requirement
from kycd.customers.schemas import StrictModel
from kycd.errors import NotFound
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.service import tenant_for_update

SETTINGS_KEY = "compliance"


class PolicySettings(StrictModel):
    required: dict[CheckType, Requirement] = Field(default_factory=dict)
    kyc_validity_months: int = Field(default=24, ge=1, le=120)
    document_review_required: bool = False

    def to_config(self) -> PolicyConfig:
        return PolicyConfig(
            required={t: r for t, r in self.required.items() if r is not Requirement.DEFAULT},
            kyc_validity_months=self.kyc_validity_months,
            document_review_required=self.document_review_required,
        )

    def effective(self) -> PolicySettings:
        """Every check type listed, unset ones as ``default``."""
        return self.model_copy(
            update={"required": {t: self.required.get(t, Requirement.DEFAULT) for t in CheckType}}
        )


def settings_of(tenant_settings: dict[str, Any] | None) -> PolicySettings:
    return PolicySettings.model_validate((tenant_settings or {}).get(SETTINGS_KEY) or {})


# Parsed policies by tenant, with the raw value they were parsed from: the
# status read fetches the raw settings anyway and skips re-validating them.
_parsed: dict[str, tuple[Any, PolicyConfig, str]] = {}


def policy_of(tenant_id: str, tenant_settings: dict[str, Any] | None) -> tuple[PolicyConfig, str]:
    """The tenant's policy and its fingerprint: the stored status answers
    remember the fingerprint of the policy they were evaluated under, so a
    policy change turns them into misses without rewriting them."""
    raw = (tenant_settings or {}).get(SETTINGS_KEY)
    cached = _parsed.get(tenant_id)
    if cached is not None and cached[0] == raw:
        return cached[1], cached[2]
    config = settings_of(tenant_settings).to_config()
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    if len(_parsed) > 10_000:
        _parsed.clear()
    _parsed[tenant_id] = (raw, config, fingerprint)
    return config, fingerprint


def config_of(tenant_id: str, tenant_settings: dict[str, Any] | None) -> PolicyConfig:
    return policy_of(tenant_id, tenant_settings)[0]


def fingerprint_of(tenant_id: str, tenant_settings: dict[str, Any] | None) -> str:
    return policy_of(tenant_id, tenant_settings)[1]


def _tenant(db: Session, ctx: RequestContext) -> Tenant:
    tenant = db.get(Tenant, ctx.tenant_id)
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


def load_settings(db: Session, ctx: RequestContext) -> PolicySettings:
    return settings_of(_tenant(db, ctx).settings)


def store_settings(db: Session, ctx: RequestContext, data: PolicySettings) -> PolicySettings:
    tenant = tenant_for_update(db, ctx)
    stored = data.model_dump(mode="json")
    stored["required"] = {t: r for t, r in stored["required"].items() if r != "default"}
    # A new dict, so the JSON column sees the change.
    tenant.settings = {**(tenant.settings or {}), SETTINGS_KEY: stored}
    db.flush()
    return settings_of(tenant.settings)
