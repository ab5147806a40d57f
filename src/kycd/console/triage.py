"""Screening hit triage: the open hits of the environment, and one hit with
what is needed to decide it (the customer or its related party as screened,
the list entity as listed, and the match explanation). Decisions go through
``screening.service.review_hit``, exactly like ``POST /v1/screening/hits/{id}/review``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kycd.customers.models import Customer
from kycd.organization.models import RelatedParty
from kycd.screening import lists
from kycd.screening import service as screening
from kycd.screening.models import Hit, HitStatus, ListVersion, Watchlist
from kycd.screening.records import Record
from kycd.screening.schemas import HitOut
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped, scoped

OPEN_LIMIT = 200


@dataclass(frozen=True)
class OpenHit:
    hit: Hit
    customer: Customer
    watchlist: str


def open_hits(db: Session, ctx: RequestContext) -> tuple[list[OpenHit], int]:
    """Active hits nobody has decided yet, oldest first."""
    stmt = scoped(Hit, ctx).where(Hit.status == HitStatus.OPEN.value, Hit.active.is_(True))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(
        stmt.join(Customer, Customer.id == Hit.customer_id)
        .join(Watchlist, Watchlist.id == Hit.watchlist_id)
        .add_columns(Customer, Watchlist.name)
        .order_by(Hit.created_at, Hit.id)
        .limit(OPEN_LIMIT)
    ).all()
    return [OpenHit(hit, customer, name) for hit, customer, name in rows], total


def open_hit_count(db: Session, ctx: RequestContext) -> int:
    stmt = scoped(Hit, ctx).where(Hit.status == HitStatus.OPEN.value, Hit.active.is_(True))
    return db.scalar(select(func.count()).select_from(stmt.subquery())) or 0


@dataclass(frozen=True)
class Triage:
    hit: HitOut
    customer: Customer
    # The customer as the matcher saw it (names, birth dates, countries, identifiers).
    subject: Any
    # The list entity as stored in the list version the hit was found in;
    # None when that version's files are gone (pruned).
    entity: Record | None
    version: ListVersion | None


def triage(db: Session, ctx: RequestContext, settings: Settings, hit_id: str) -> Triage:
    hit = get_scoped(db, Hit, ctx, hit_id, what="Hit")
    customer = get_scoped(db, Customer, ctx, hit.customer_id, what="Customer")
    watchlist = db.get(Watchlist, hit.watchlist_id)
    version = db.scalars(
        scoped(ListVersion, ctx).where(ListVersion.id == hit.list_version_id)
    ).first()
    entity: Record | None = None
    if version is not None:
        try:
            entity = lists.open_view(settings, version).get(hit.entity_id)
        except OSError:
            entity = None
    return Triage(
        hit=screening.hit_out(hit, watchlist.name if watchlist else ""),
        customer=customer,
        subject=_subject(db, ctx, hit, customer),
        entity=entity,
        version=version,
    )


def _subject(db: Session, ctx: RequestContext, hit: Hit, customer: Customer) -> Any:
    """Whom the hit is on, as the matcher saw them: the customer, or its related
    party (None once the party is removed; the hit keeps its name)."""
    if hit.party_id is None:
        return screening.subject_of_customer(customer)
    party = db.scalars(scoped(RelatedParty, ctx).where(RelatedParty.id == hit.party_id)).first()
    return screening.subject_of_party(party) if party is not None else None


def customer_hits(db: Session, ctx: RequestContext, customer_id: str) -> list[HitOut]:
    """Every hit of a customer, active first, newest first."""
    names = {w.id: w.name for w in db.scalars(scoped(Watchlist, ctx))}
    rows = db.scalars(
        scoped(Hit, ctx)
        .where(Hit.customer_id == customer_id)
        .order_by(Hit.active.desc(), Hit.created_at.desc(), Hit.id)
    ).all()
    return [screening.hit_out(h, names.get(h.watchlist_id, "")) for h in rows]
