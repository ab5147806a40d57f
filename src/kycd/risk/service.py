"""Risk profiles: gathering a customer's facts, recalculating, and the history.

Other domains call :func:`current_risk_level` (compliance: HIGH requires
enhanced due diligence) and :func:`recalculate`. Recalculation also happens
automatically: :mod:`kycd.risk.subscribers` reacts to the events that change
its inputs, inside the writer's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from kycd.api.pagination import PageParams
from kycd.customers import service as customers
from kycd.customers.models import AddressType, Customer, CustomerType
from kycd.db import Database, is_postgres, utcnow
from kycd.documents.models import Document
from kycd.documents.types import ReviewStatus as DocumentReviewStatus
from kycd.errors import BadRequest, Conflict
from kycd.events.service import record_event
from kycd.organization import service as organization
from kycd.risk.factors import (
    RULES_VERSION,
    Assessment,
    ConfigError,
    OwnershipFacts,
    RelatedPartyCountries,
    RiskConfig,
    RiskInputs,
    assess,
    factor_changes,
    packaged_activity_lists,
    packaged_country_lists,
)
from kycd.risk.models import RiskProfile, RiskProfileHistory
from kycd.risk.schemas import (
    FactorChange,
    FactorOut,
    RiskHistoryOut,
    RiskProfileOut,
    RiskSettingsIn,
    RiskSettingsOut,
    Thresholds,
)
from kycd.screening import service as screening
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.scoping import scope_values, scoped
from kycd.tenancy.service import tenant_for_update
from kycd.verification.models import SessionStatus, VerificationSession

FAILED_RUN_STATUSES = {SessionStatus.REJECTED.value, SessionStatus.EXPIRED.value}


# --- configuration -------------------------------------------------------------


def _tenant_risk_settings(db: Session, ctx: RequestContext) -> dict[str, Any]:
    tenant = db.get(Tenant, ctx.tenant_id)
    raw = (tenant.settings or {}).get("risk") if tenant is not None else None
    return dict(raw) if isinstance(raw, dict) else {}


# Parsed configurations by their settings' JSON: parsing and compiling the
# keyword lists costs more than the rest of a recalculation.
_config_cache: dict[str, tuple[RiskConfig, str]] = {}


def _digest(raw: dict[str, Any], config: RiskConfig) -> str:
    effective = {
        "rules": RULES_VERSION,
        "weights": dict(config.weights),
        "thresholds": [config.medium, config.high],
        "country_lists": raw.get("country_lists") or packaged_country_lists(),
        "activity_lists": raw.get("activity_lists") or packaged_activity_lists(),
    }
    return hashlib.sha256(json.dumps(effective, sort_keys=True).encode()).hexdigest()


def _config_and_digest(raw: dict[str, Any]) -> tuple[RiskConfig, str]:
    key = json.dumps(raw, sort_keys=True)
    cached = _config_cache.get(key)
    if cached is not None:
        return cached
    try:
        config = RiskConfig.from_settings(raw)
    except ConfigError as exc:
        raise BadRequest(str(exc), field=exc.field) from exc
    if len(_config_cache) >= 64:
        _config_cache.clear()
    _config_cache[key] = (config, _digest(raw, config))
    return _config_cache[key]


def _config_from(raw: dict[str, Any]) -> RiskConfig:
    return _config_and_digest(raw)[0]


def config_digest(db: Session, ctx: RequestContext) -> str:
    """What a stored profile was calculated under: the risk settings and the
    organisation domain's UBO threshold (it decides who counts as an owner);
    a profile with another digest is recalculated by the worker."""
    risk_digest = _config_and_digest(_tenant_risk_settings(db, ctx))[1]
    threshold = organization.ubo_threshold(db, ctx)
    return hashlib.sha256(f"{risk_digest}|ubo:{threshold}".encode()).hexdigest()


def load_config(db: Session, ctx: RequestContext) -> RiskConfig:
    return _config_from(_tenant_risk_settings(db, ctx))


def get_settings(db: Session, ctx: RequestContext) -> RiskSettingsOut:
    raw = _tenant_risk_settings(db, ctx)
    config = _config_from(raw)
    return RiskSettingsOut(
        weights=dict(config.weights),
        thresholds=Thresholds(medium=config.medium, high=config.high),
        country_lists=raw.get("country_lists") or packaged_country_lists(),
        activity_lists=raw.get("activity_lists") or packaged_activity_lists(),
        overridden=sorted(k for k, v in raw.items() if v),
    )


def put_settings(db: Session, ctx: RequestContext, data: RiskSettingsIn) -> RiskSettingsOut:
    """Replace the tenant's risk settings (weights, thresholds, country and
    activity lists). Keys left out return to kycd's defaults. Profiles pick the
    new settings up at their next recalculation."""
    raw = data.model_dump(exclude_none=True)
    _config_from(raw)  # reject an invalid configuration before storing it
    tenant = tenant_for_update(db, ctx)
    # A new dict, so SQLAlchemy sees the JSON column change.
    tenant.settings = {**(tenant.settings or {}), "risk": raw}
    db.flush()
    record_event(db, ctx, "risk.settings_updated", payload={"keys": sorted(raw)})
    return get_settings(db, ctx)


# --- inputs --------------------------------------------------------------------


def _residence(customer: Customer) -> str | None:
    if customer.country_of_residence:
        return customer.country_of_residence
    residential = [a for a in customer.addresses if a.type == AddressType.RESIDENTIAL.value]
    primary = [a for a in residential if a.is_primary] or residential
    return primary[0].country if primary else None


def _business_facts(
    db: Session, ctx: RequestContext, customer: Customer
) -> tuple[OwnershipFacts, list[RelatedPartyCountries]]:
    found = organization.analyse(db, ctx, customer)
    result = found.result
    facts = OwnershipFacts(
        untraced_percentage=round(float(result.untraced), 4),
        max_chain_length=result.depth,
        circular=result.circular,
        truncated=result.truncated,
        ubo_basis=result.basis.value,
    )
    by_id = {p.id: p for p in found.parties}
    owners = [by_id[o.party] for o in result.owners]
    countries = [
        RelatedPartyCountries(organization.display_name(p), p.nationality, p.country)
        for p in owners
    ]
    return facts, countries


def _rejected_documents(db: Session, ctx: RequestContext, customer_ids: list[str]) -> Counter[str]:
    """Documents a reviewer rejected (documents are never deleted: each counts)."""
    return Counter(
        db.scalars(
            scoped(Document, ctx)
            .with_only_columns(Document.customer_id)
            .where(
                Document.customer_id.in_(customer_ids),
                Document.review_status == DocumentReviewStatus.REJECTED.value,
            )
        )
    )


def _run_statuses(
    db: Session, ctx: RequestContext, customer_ids: list[str]
) -> dict[str, list[str]]:
    statuses: dict[str, list[str]] = defaultdict(list)
    for customer_id, status in db.execute(
        scoped(VerificationSession, ctx)
        .with_only_columns(VerificationSession.customer_id, VerificationSession.status)
        .where(VerificationSession.customer_id.in_(customer_ids))
    ):
        statuses[customer_id].append(status)
    return statuses


def gather_inputs(db: Session, ctx: RequestContext, customer: Customer) -> RiskInputs:
    """Everything the rules need about one customer."""
    return _gather_many(db, ctx, [customer])[customer.id]


def _gather_many(
    db: Session, ctx: RequestContext, found: Sequence[Customer]
) -> dict[str, RiskInputs]:
    """:func:`gather_inputs` of many customers, with one query per source
    rather than one per customer (a re-screen recalculates a hundred at once).
    Their addresses should be loaded already (``selectinload``)."""
    ids = [c.id for c in found]
    statuses = _run_statuses(db, ctx, ids)
    rejected = _rejected_documents(db, ctx, ids)
    hits = screening.hit_summaries(db, ctx, ids)
    gathered: dict[str, RiskInputs] = {}
    for customer in found:
        ownership: OwnershipFacts | None = None
        related: list[RelatedPartyCountries] = []
        if customer.type == CustomerType.BUSINESS.value:
            ownership, related = _business_facts(db, ctx, customer)
        runs = statuses.get(customer.id, [])
        summary = hits[customer.id]
        gathered[customer.id] = RiskInputs(
            customer_type=customer.type,
            nationality=customer.nationality,
            country_of_residence=_residence(customer),
            incorporation_country=customer.incorporation_country,
            occupation=customer.occupation,
            industry=customer.industry,
            verification_runs=len(runs),
            failed_runs=sum(1 for s in runs if s in FAILED_RUN_STATUSES),
            rejected_documents=rejected[customer.id],
            screening_hits={
                # Active hits not dismissed as false positives, by topic.
                "sanctions": summary.sanctions,
                "pep": summary.pep,
                "adverse_media": summary.adverse_media,
            },
            ownership=ownership,
            related_parties=related,
        )
    return gathered


def assess_customer(
    db: Session, ctx: RequestContext, customer: Customer
) -> tuple[Assessment, RiskConfig]:
    config = load_config(db, ctx)
    return assess(gather_inputs(db, ctx, customer), config), config


# --- profiles ------------------------------------------------------------------


def _stored(
    db: Session, ctx: RequestContext, customer_ids: list[str], *, lock: bool
) -> dict[str, RiskProfile]:
    stmt = (
        scoped(RiskProfile, ctx)
        .where(RiskProfile.customer_id.in_(customer_ids))
        .order_by(RiskProfile.customer_id)
    )
    if lock:
        # Serialises concurrent recalculations of one customer on PostgreSQL
        # (SQLite writers are serialised already), so versions never collide;
        # in id order, so two batches never wait for each other in a cycle.
        stmt = stmt.with_for_update()
    return {profile.customer_id: profile for profile in db.scalars(stmt)}


def current_risk_level(db: Session, ctx: RequestContext, customer_id: str) -> str | None:
    """The stored level (LOW, MEDIUM, HIGH), or None if never calculated."""
    return current_risk_levels(db, ctx, [customer_id]).get(customer_id)


def current_risk_levels(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, str]:
    """The stored levels of those of these customers that have a profile."""
    rows = db.execute(
        scoped(RiskProfile, ctx)
        .with_only_columns(RiskProfile.customer_id, RiskProfile.level)
        .where(RiskProfile.customer_id.in_(list(customer_ids)))
    )
    return {customer_id: level for customer_id, level in rows}


def recalculate(db: Session, ctx: RequestContext, customer_id: str, *, reason: str) -> RiskProfile:
    """Recalculate and store the profile, keep the history entry with what
    changed, and emit ``risk.level_changed`` when the level moves."""
    customer = customers.get_customer(db, ctx, customer_id)
    return recalculate_many(db, ctx, {customer.id: reason})[customer.id]


def recalculate_many(
    db: Session, ctx: RequestContext, reasons: Mapping[str, str]
) -> dict[str, RiskProfile]:
    """:func:`recalculate` for many customers (by id, with each one's reason)
    with a few queries for the whole batch. Ids that are not customers in
    ``ctx`` are skipped."""
    found = db.scalars(
        scoped(Customer, ctx)
        .where(Customer.id.in_(list(reasons)))
        .order_by(Customer.id)
        .options(selectinload(Customer.addresses))
    ).all()
    if not found:
        return {}
    ids = [c.id for c in found]
    stored = _stored(db, ctx, ids, lock=True)
    inputs = _gather_many(db, ctx, found)
    config = load_config(db, ctx)
    digest = config_digest(db, ctx)
    thresholds = {"medium": config.medium, "high": config.high}
    now = utcnow()
    recalculated: dict[str, tuple[RiskProfile, str | None, float | None, list[dict[str, Any]]]] = {}
    created: list[RiskProfile] = []
    for customer in found:
        assessment = assess(inputs[customer.id], config)
        factors = [f.as_dict() for f in assessment.factors]
        reason = reasons[customer.id][:200]
        profile = stored.get(customer.id)
        previous_level = profile.level if profile is not None else None
        previous_score = profile.score if profile is not None else None
        changes = factor_changes(profile.factors if profile is not None else [], factors)
        if profile is None:
            profile = RiskProfile(**scope_values(ctx), customer_id=customer.id, version=0)
            created.append(profile)
        profile.config_digest = digest
        profile.score = assessment.score
        profile.level = assessment.level.value
        profile.factors = factors
        profile.thresholds = thresholds
        profile.version += 1
        profile.reason = reason
        profile.calculated_at = now
        recalculated[customer.id] = (profile, previous_level, previous_score, changes)
    _insert_profiles(db, created)
    for profile, previous_level, previous_score, changes in recalculated.values():
        db.add(
            RiskProfileHistory(
                **scope_values(ctx),
                customer_id=profile.customer_id,
                version=profile.version,
                score=profile.score,
                level=profile.level,
                previous_score=previous_score,
                previous_level=previous_level,
                factors=profile.factors,
                changes=changes,
                reason=profile.reason,
                actor_type=ctx.actor_type,
                actor_id=ctx.actor_id,
                calculated_at=now,
            )
        )
        _record_events(db, ctx, profile, previous_level, previous_score, changes)
    return {customer_id: entry[0] for customer_id, entry in recalculated.items()}


def _insert_profiles(db: Session, created: list[RiskProfile]) -> None:
    """First profiles, in a savepoint: a concurrent first calculation of one of
    them must not poison the writer's session."""
    if not created:
        return
    try:
        with db.begin_nested():
            db.add_all(created)
            db.flush()
    except IntegrityError as exc:
        raise Conflict(
            "The risk profile was calculated concurrently; retry", "risk_profile_conflict"
        ) from exc


def _record_events(
    db: Session,
    ctx: RequestContext,
    profile: RiskProfile,
    previous_level: str | None,
    previous_score: float | None,
    changes: list[dict[str, Any]],
) -> None:
    record_event(
        db,
        ctx,
        "risk.recalculated",
        customer_id=profile.customer_id,
        payload={
            "customerId": profile.customer_id,
            "version": profile.version,
            "score": profile.score,
            "previousScore": previous_score,
            "level": profile.level,
            "reason": profile.reason,
            "changedFactors": [c["factor"] for c in changes],
        },
    )
    if profile.level != previous_level:
        record_event(
            db,
            ctx,
            "risk.level_changed",
            customer_id=profile.customer_id,
            payload={
                "customerId": profile.customer_id,
                "from": previous_level,
                "to": profile.level,
                "score": profile.score,
                "version": profile.version,
                "reason": profile.reason,
            },
        )


def _factors_out(factors: list[dict[str, Any]]) -> list[FactorOut]:
    return [FactorOut.model_validate(f) for f in factors]


def profile_out(profile: RiskProfile) -> RiskProfileOut:
    return RiskProfileOut(
        customer_id=profile.customer_id,
        score=profile.score,
        level=profile.level,
        thresholds=Thresholds.model_validate(profile.thresholds),
        factors=_factors_out(profile.factors),
        version=profile.version,
        reason=profile.reason,
        calculated_at=profile.calculated_at,
    )


def get_profile(db: Session, ctx: RequestContext, customer_id: str) -> RiskProfileOut:
    """The stored profile; a customer that has none yet (created before risk
    profiles existed) gets one computed for this response, ``version`` 0."""
    customer = customers.get_customer(db, ctx, customer_id)
    profile = _stored(db, ctx, [customer.id], lock=False).get(customer.id)
    if profile is not None:
        return profile_out(profile)
    assessment, config = assess_customer(db, ctx, customer)
    return RiskProfileOut(
        customer_id=customer.id,
        score=assessment.score,
        level=assessment.level.value,
        thresholds=Thresholds(medium=config.medium, high=config.high),
        factors=_factors_out([f.as_dict() for f in assessment.factors]),
        version=0,
        reason="not yet stored",
        calculated_at=utcnow(),
    )


def list_history(
    db: Session, ctx: RequestContext, customer_id: str, page: PageParams
) -> tuple[list[RiskHistoryOut], int]:
    customer = customers.get_customer(db, ctx, customer_id)
    stmt = scoped(RiskProfileHistory, ctx).where(RiskProfileHistory.customer_id == customer.id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(RiskProfileHistory.version.desc()).offset(page.offset).limit(page.page_size)
    )
    return [history_out(row) for row in rows], total


def history_out(row: RiskProfileHistory) -> RiskHistoryOut:
    return RiskHistoryOut(
        version=row.version,
        score=row.score,
        level=row.level,
        previous_score=row.previous_score,
        previous_level=row.previous_level,
        level_changed=row.level != row.previous_level,
        reason=row.reason,
        changes=[FactorChange.model_validate(c) for c in row.changes],
        factors=_factors_out(row.factors),
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        calculated_at=row.calculated_at,
    )


# --- the worker ----------------------------------------------------------------

OUTDATED_BATCH = 50


def recalculate_outdated(database: Database, settings: Settings, now: datetime) -> int:
    """Periodic job: recalculate profiles calculated under other rules or
    settings than the tenant's current ones (a PUT /v1/risk/settings, a new
    packaged FATF list, an upgrade that changed the rules). One bounded batch."""
    handled = 0
    with database.transaction() as db:
        for tenant in db.scalars(select(Tenant).order_by(Tenant.id)).all():
            system = RequestContext(tenant.id, "", actor_type="system", actor_id="risk-worker")
            try:
                digest = config_digest(db, system)
            except BadRequest:
                continue  # settings edited by hand into an invalid state: leave them be
            stmt = (
                select(RiskProfile)
                .where(RiskProfile.tenant_id == tenant.id, RiskProfile.config_digest != digest)
                .order_by(RiskProfile.id)
                .limit(OUTDATED_BATCH - handled)
            )
            if is_postgres(db):
                # Several workers share the work instead of recalculating the same rows.
                stmt = stmt.with_for_update(skip_locked=True)
            for profile in db.scalars(stmt).all():
                ctx = RequestContext(
                    tenant.id, profile.environment, actor_type="system", actor_id="risk-worker"
                )
                recalculate(db, ctx, profile.customer_id, reason="risk settings changed")
                handled += 1
            if handled >= OUTDATED_BATCH:
                break
    return handled
