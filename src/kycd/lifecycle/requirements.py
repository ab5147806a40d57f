"""The admin API's side of the PARTIAL/FULL configuration: a tenant's own
requirements, stored in ``tenants.settings["lifecycle"]``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kycd.errors import NotFound
from kycd.events.service import record_event
from kycd.lifecycle.config import TENANT_KEY, effective_config
from kycd.lifecycle.rules import RequirementsConfig
from kycd.lifecycle.schemas import RequirementsOut
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.service import tenant_for_update


def _tenant(db: Session, ctx: RequestContext) -> Tenant:
    tenant = db.get(Tenant, ctx.tenant_id)
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


def get_requirements(db: Session, ctx: RequestContext, settings: Settings) -> RequirementsOut:
    config, source = effective_config(_tenant(db, ctx).settings, settings)
    return RequirementsOut(**config.model_dump(), source=source)


def set_requirements(
    db: Session, ctx: RequestContext, settings: Settings, config: RequirementsConfig
) -> RequirementsOut:
    tenant = tenant_for_update(db, ctx)
    tenant.settings = {**tenant.settings, TENANT_KEY: config.model_dump(mode="json")}
    db.flush()
    record_event(
        db,
        ctx,
        "admin.lifecycle_requirements_updated",
        payload={"requirements": config.model_dump(mode="json")},
    )
    return get_requirements(db, ctx, settings)


def reset_requirements(db: Session, ctx: RequestContext, settings: Settings) -> RequirementsOut:
    tenant = tenant_for_update(db, ctx)
    if TENANT_KEY in tenant.settings:
        tenant.settings = {k: v for k, v in tenant.settings.items() if k != TENANT_KEY}
        db.flush()
        record_event(db, ctx, "admin.lifecycle_requirements_reset", payload={})
    return get_requirements(db, ctx, settings)
