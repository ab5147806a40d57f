"""What the dashboard counts: work waiting for a person, documents and checks
about to expire, and customers by compliance state and risk level. Every
number is a query on the domains' tables through ``tenancy.scoping``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kycd.checks.models import UserCheck
from kycd.checks.outcome import CheckStatus
from kycd.compliance.models import ComplianceProjection
from kycd.customers.models import Customer
from kycd.documents.models import Document
from kycd.risk.models import RiskProfile
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scoped

EXPIRY_HORIZON_DAYS = 30
EXPIRY_LIST_LIMIT = 10
RISK_LEVELS = ("LOW", "MEDIUM", "HIGH", "none")
COMPLIANCE_STATES = ("compliant", "not compliant", "not evaluated")


@dataclass(frozen=True)
class Expiring:
    """Rows expiring between today and the horizon, soonest first, and how many."""

    rows: list[tuple[Any, Customer]]
    total: int


def _expiring(
    db: Session, ctx: RequestContext, model: Any, column: Any, today: date, *extra: Any
) -> Expiring:
    horizon = today + timedelta(days=EXPIRY_HORIZON_DAYS)
    stmt = (
        scoped(model, ctx)
        .join(Customer, Customer.id == model.customer_id)
        .where(column >= today, column <= horizon, *extra)
    )
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(
        stmt.add_columns(Customer).order_by(column, model.id).limit(EXPIRY_LIST_LIMIT)
    ).all()
    return Expiring([(row, customer) for row, customer in rows], total)


def expiring_documents(db: Session, ctx: RequestContext, today: date) -> Expiring:
    return _expiring(db, ctx, Document, Document.expiry_date, today)


def expiring_checks(db: Session, ctx: RequestContext, today: date) -> Expiring:
    """Passed checks whose document expires soon: once it has, the check no
    longer counts for the compliance status."""
    return _expiring(
        db,
        ctx,
        UserCheck,
        UserCheck.document_expiration_date,
        today,
        UserCheck.status == CheckStatus.PASSED.value,
    )


def compliance_by_risk(db: Session, ctx: RequestContext) -> dict[str, dict[str, int]]:
    """Compliance state (as last evaluated: the projection the compliance
    domain keeps on every change) -> risk level (as stored) -> customers."""
    stmt = (
        scoped(Customer, ctx)
        .outerjoin(ComplianceProjection, ComplianceProjection.customer_id == Customer.id)
        .outerjoin(RiskProfile, RiskProfile.customer_id == Customer.id)
        .with_only_columns(ComplianceProjection.is_compliant, RiskProfile.level, func.count())
        .group_by(ComplianceProjection.is_compliant, RiskProfile.level)
    )
    table = {state: dict.fromkeys(RISK_LEVELS, 0) for state in COMPLIANCE_STATES}
    for is_compliant, level, count in db.execute(stmt).all():
        state = (
            "not evaluated"
            if is_compliant is None
            else ("compliant" if is_compliant else "not compliant")
        )
        key = level if level in RISK_LEVELS else "none"
        table[state][key] += count
    return table


def next_actions(db: Session, ctx: RequestContext) -> list[tuple[str, int]]:
    """Customers by the next action the compliance status asks for, most first."""
    stmt = (
        scoped(ComplianceProjection, ctx)
        .with_only_columns(ComplianceProjection.next_action, func.count())
        .group_by(ComplianceProjection.next_action)
    )
    rows = [(action, count) for action, count in db.execute(stmt).all()]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


@dataclass(frozen=True)
class Segment:
    level: str
    count: int
    x: float
    width: float


BAR_WIDTH = 300.0


def stacked_bars(table: dict[str, dict[str, int]]) -> list[tuple[str, int, list[Segment]]]:
    """The chart's geometry: per compliance state its total and one segment per
    risk level, scaled so the longest bar is :data:`BAR_WIDTH` wide. SVG
    attributes, not inline styles: the console's CSP forbids those."""
    longest = max((sum(levels.values()) for levels in table.values()), default=0) or 1
    bars = []
    for state, levels in table.items():
        x = 0.0
        segments = []
        for level, count in levels.items():
            width = round(BAR_WIDTH * count / longest, 2)
            if count:
                segments.append(Segment(level, count, x, width))
            x = round(x + width, 2)
        bars.append((state, sum(levels.values()), segments))
    return bars
