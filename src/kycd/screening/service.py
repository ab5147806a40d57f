"""Screening: ad hoc matches, monitored customers, their hits and reviews.

A monitored customer is screened together with its current related parties
(the people and companies of a business: shareholders, UBOs through them,
directors, representatives, signatories). A hit is on the customer itself
(``party_id`` None) or on one of its parties, and is reconciled per (party,
list entity) exactly as a customer's own: a review sticks while the entity is
unchanged, whoever the hit is on. Every hit counts in the customer's
:func:`hit_summary`: a sanctioned UBO is a sanctions hit of the business.
When a monitored business gains a party or a party changes, that party is
screened in the same transaction; when a party is removed, its active hits
are withdrawn (kycd.screening.subscribers).

The interface other domains call is :func:`hit_summary`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kycd.api.pagination import PageParams
from kycd.customers.models import Customer, CustomerType
from kycd.db import new_id, utcnow
from kycd.errors import Conflict
from kycd.events.service import record_event
from kycd.organization.models import PartyType as RelatedPartyType
from kycd.organization.models import RelatedParty
from kycd.organization.service import display_name
from kycd.screening.engine import Found, screen_view
from kycd.screening.index import ListView
from kycd.screening.lists import current_versions, open_view
from kycd.screening.matching import DEFAULT_THRESHOLD, Kind, Subject
from kycd.screening.models import Hit, HitStatus, ListVersion, Monitor, Watchlist
from kycd.screening.schemas import (
    HitOut,
    HitSummaryOut,
    ListRef,
    MatchOut,
    MatchRequest,
    MatchResponse,
    MonitorResponse,
    PartyType,
    ReviewRequest,
)
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.scoping import get_scoped, rows_by_customer, scope_values, scoped

PARTY_KINDS = {
    PartyType.INDIVIDUAL: Kind.PERSON,
    PartyType.BUSINESS: Kind.ORGANIZATION,
    PartyType.ENTITY: Kind.ENTITY,
    PartyType.VESSEL: Kind.OBJECT,
}
# Tenant setting (tenants.settings) that overrides the default threshold.
THRESHOLD_SETTING = "screening_threshold"


def tenant_threshold(db: Session, ctx: RequestContext) -> float:
    tenant = db.get(Tenant, ctx.tenant_id)
    value = (tenant.settings or {}).get(THRESHOLD_SETTING) if tenant else None
    return float(value) if isinstance(value, int | float) else DEFAULT_THRESHOLD


# ------------------------------------------------------------------ subjects


def subject_of_request(body: MatchRequest) -> Subject:
    names = [body.name, *body.aliases]
    parts = []
    for prop, value in (
        ("firstName", body.first_name),
        ("middleName", body.middle_name),
        ("lastName", body.last_name),
    ):
        if value:
            parts.append((prop, (value,)))
    return Subject(
        kind=PARTY_KINDS[body.type],
        names=tuple(dict.fromkeys(n.strip() for n in names if n.strip())),
        name_parts=tuple(parts),
        birth_dates=(body.date_of_birth.isoformat(),) if body.date_of_birth else (),
        countries=tuple(body.countries),
        identifiers=tuple(body.identifiers),
    )


def subject_of_customer(customer: Customer) -> Subject | None:
    if customer.type == CustomerType.BUSINESS.value:
        if not customer.company_name:
            return None
        countries = [customer.incorporation_country]
        return Subject(
            kind=Kind.ORGANIZATION,
            names=(customer.company_name,),
            countries=tuple(c.lower() for c in countries if c),
            identifiers=(customer.registration_number,) if customer.registration_number else (),
        )
    full = " ".join(p for p in (customer.first_name, customer.middle_name, customer.last_name) if p)
    if not full:
        return None
    parts = [
        (prop, (value,))
        for prop, value in (
            ("firstName", customer.first_name),
            ("middleName", customer.middle_name),
            ("lastName", customer.last_name),
        )
        if value
    ]
    return Subject(
        kind=Kind.PERSON,
        names=(full,),
        name_parts=tuple(parts),
        birth_dates=(customer.date_of_birth.isoformat(),) if customer.date_of_birth else (),
        countries=(customer.nationality.lower(),) if customer.nationality else (),
    )


def subject_of_party(party: RelatedParty) -> Subject | None:
    """A related party as the matcher sees it: a person by name parts, birth
    date and nationality; a company by name, country and registration number."""
    if party.type == RelatedPartyType.COMPANY.value:
        if not party.company_name:
            return None
        return Subject(
            kind=Kind.ORGANIZATION,
            names=(party.company_name,),
            countries=(party.country.lower(),) if party.country else (),
            identifiers=(party.registration_number,) if party.registration_number else (),
        )
    full = " ".join(p for p in (party.first_name, party.last_name) if p)
    if not full:
        return None
    parts = [
        (prop, (value,))
        for prop, value in (("firstName", party.first_name), ("lastName", party.last_name))
        if value
    ]
    return Subject(
        kind=Kind.PERSON,
        names=(full,),
        name_parts=tuple(parts),
        birth_dates=(party.date_of_birth.isoformat(),) if party.date_of_birth else (),
        countries=(party.nationality.lower(),) if party.nationality else (),
    )


@dataclass(frozen=True)
class Target:
    """Whom a hit is on: the customer itself, or one of its related parties
    (by id, and by name as screened)."""

    party_id: str | None = None
    party_name: str | None = None


CUSTOMER_ITSELF = Target()


def target_of(party: RelatedParty) -> Target:
    return Target(party.id, display_name(party)[:300] or None)


def related_parties(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, list[RelatedParty]]:
    """The current related parties of each of these customers, in one query
    (a re-screen batch reads a hundred customers, most of them with none)."""
    return rows_by_customer(
        db, RelatedParty, ctx, customer_ids, RelatedParty.created_at, RelatedParty.id
    )


# ------------------------------------------------------------------ ad hoc


def _list_ref(watchlist: Watchlist, version: ListVersion) -> ListRef:
    return ListRef(
        watchlist=watchlist.name,
        version=version.version,
        version_id=version.id,
        entity_count=version.entity_count,
    )


def match_out(watchlist: Watchlist, version: ListVersion, found: Found) -> MatchOut:
    record = found.record
    return MatchOut(
        watchlist=watchlist.name,
        list_version=version.version,
        entity_id=record["id"],
        schema_=record["schema"],
        caption=record["caption"],
        topics=record["topics"],
        datasets=record["datasets"],
        score=round(found.match.score, 4),
        explanation=found.match.explanation(),
    )


def screen(
    db: Session, ctx: RequestContext, settings: Settings, body: MatchRequest
) -> MatchResponse:
    """Screen a person or organisation against the tenant's current lists."""
    subject = subject_of_request(body)
    lists = current_versions(db, ctx, body.watchlists)
    matches: list[MatchOut] = []
    for watchlist, version in lists:
        view = open_view(settings, version)
        for found in screen_view(view, subject, threshold=body.threshold, limit=body.limit):
            matches.append(match_out(watchlist, version, found))
    matches.sort(key=lambda m: m.score, reverse=True)
    return MatchResponse(
        threshold=body.threshold,
        screened_lists=[_list_ref(w, v) for w, v in lists],
        matches=matches[: body.limit],
    )


# ------------------------------------------------------------------ hits


def _topics_event(hit: Hit) -> dict[str, Any]:
    return {
        "hit_id": hit.id,
        "customer_id": hit.customer_id,
        # None: the hit is on the customer itself.
        "party_id": hit.party_id,
        "watchlist_id": hit.watchlist_id,
        "entity_id": hit.entity_id,
        "entity_caption": hit.entity_caption,
        "score": hit.score,
        "topics": hit.topics,
        "status": hit.status,
    }


def withdraw_hit(db: Session, ctx: RequestContext, hit: Hit, version_id: str, reason: str) -> None:
    hit.active = False
    hit.list_version_id = version_id
    hit.updated_at = utcnow()
    record_event(
        db,
        ctx,
        "screening.hit.withdrawn",
        customer_id=hit.customer_id,
        payload={**_topics_event(hit), "reason": reason},
    )


@dataclass
class Reconciled:
    created: int = 0
    reopened: int = 0
    withdrawn: int = 0
    hits: list[Hit] = field(default_factory=list)


def reconcile(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    watchlist: Watchlist,
    version: ListVersion,
    found: Iterable[Found],
    existing: Iterable[Hit],
    *,
    target: Target = CUSTOMER_ITSELF,
    scope: set[str] | None = None,
) -> Reconciled:
    """Bring a customer's hits on one list in line with a screening result:
    those on ``target``, the customer itself or one of its parties
    (``existing`` holds that target's hits only).

    ``scope`` limits the comparison to those entity ids (a delta's changes);
    hits on other entities are left alone. A reviewed hit keeps its decision
    while the entity's content hash is the one reviewed; when the list
    changes the entity, the hit is reopened.
    """
    out = Reconciled()
    by_entity = {h.entity_id: h for h in existing}
    now = utcnow()
    seen: set[str] = set()
    for item in found:
        record, result = item.record, item.match
        entity_id = record["id"]
        seen.add(entity_id)
        hit = by_entity.get(entity_id)
        values = {
            "list_version_id": version.id,
            "entity_hash": record["hash"],
            "entity_schema": record["schema"],
            "entity_caption": record["caption"][:500],
            "topics": record["topics"],
            "datasets": record["datasets"],
            "score": round(result.score, 4),
            "explanation": result.explanation(),
            "party_name": target.party_name,
        }
        if hit is None:
            hit = Hit(
                # The id now, not at flush: the event names the hit, and the
                # hits and events of a whole re-screen batch go to the
                # database in one flush (a flush per hit cost more than the rest).
                id=new_id(),
                **scope_values(ctx),
                customer_id=customer_id,
                party_id=target.party_id,
                watchlist_id=watchlist.id,
                entity_id=entity_id,
                status=HitStatus.OPEN.value,
                active=True,
                created_at=now,
                updated_at=now,
                **values,
            )
            db.add(hit)
            out.created += 1
            record_event(
                db,
                ctx,
                "screening.hit.created",
                customer_id=customer_id,
                payload=_topics_event(hit),
            )
            out.hits.append(hit)
            continue
        changed_entity = hit.entity_hash != record["hash"]
        was_active = hit.active
        for key, value in values.items():
            setattr(hit, key, value)
        hit.active = True
        hit.updated_at = now
        reviewed = hit.status != HitStatus.OPEN.value
        if reviewed and hit.reviewed_entity_hash != record["hash"]:
            previous = hit.status
            hit.status = HitStatus.OPEN.value
            out.reopened += 1
            record_event(
                db,
                ctx,
                "screening.hit.reopened",
                customer_id=customer_id,
                payload={**_topics_event(hit), "previous_status": previous},
            )
        elif not was_active or (changed_entity and not reviewed):
            record_event(
                db,
                ctx,
                "screening.hit.updated",
                customer_id=customer_id,
                payload=_topics_event(hit),
            )
        out.hits.append(hit)
    for entity_id, hit in by_entity.items():
        if entity_id in seen or not hit.active:
            continue
        if scope is not None and entity_id not in scope:
            continue
        withdraw_hit(db, ctx, hit, version.id, "no longer matches")
        out.withdrawn += 1
    return out


def screen_customer(
    db: Session,
    ctx: RequestContext,
    settings: Settings,
    customer: Customer,
    lists: list[tuple[Watchlist, ListVersion]],
    *,
    threshold: float,
    existing: list[Hit] | None = None,
    view_of: dict[str, ListView] | None = None,
    scope: set[str] | None = None,
    parties: list[RelatedParty] | None = None,
) -> Reconciled:
    """Screen one customer and its related parties (``parties``, read when not
    given) against lists and reconcile their hits, per party and entity."""
    if existing is None:
        existing = list(db.scalars(scoped(Hit, ctx).where(Hit.customer_id == customer.id)))
    if parties is None:
        parties = related_parties(db, ctx, [customer.id])[customer.id]
    targets = [(CUSTOMER_ITSELF, subject_of_customer(customer))]
    targets += [(target_of(p), subject_of_party(p)) for p in parties]
    return _screen_targets(
        db, ctx, settings, customer.id, targets, lists, threshold, existing, view_of, scope
    )


def _screen_targets(
    db: Session,
    ctx: RequestContext,
    settings: Settings,
    customer_id: str,
    targets: list[tuple[Target, Subject | None]],
    lists: list[tuple[Watchlist, ListVersion]],
    threshold: float,
    existing: list[Hit],
    view_of: dict[str, ListView] | None = None,
    scope: set[str] | None = None,
) -> Reconciled:
    total = Reconciled()
    for watchlist, version in lists:
        view = view_of[version.id] if view_of is not None else open_view(settings, version)
        for target, subject in targets:
            found = screen_view(view, subject, threshold=threshold) if subject is not None else []
            mine = [
                h
                for h in existing
                if h.watchlist_id == watchlist.id and h.party_id == target.party_id
            ]
            result = reconcile(
                db, ctx, customer_id, watchlist, version, found, mine, target=target, scope=scope
            )
            total.created += result.created
            total.reopened += result.reopened
            total.withdrawn += result.withdrawn
    return total


def is_monitored(db: Session, ctx: RequestContext, customer_id: str) -> bool:
    monitor = db.scalars(
        scoped(Monitor, ctx).where(Monitor.customer_id == customer_id, Monitor.enabled.is_(True))
    ).first()
    return monitor is not None


def screen_party(
    db: Session, ctx: RequestContext, settings: Settings, party: RelatedParty
) -> Reconciled:
    """Screen one related party of a monitored customer against the tenant's
    current lists (a party added or changed); nothing for a customer that is
    not monitored, whose own data is not screened either."""
    if not is_monitored(db, ctx, party.customer_id):
        return Reconciled()
    existing = list(
        db.scalars(
            scoped(Hit, ctx).where(Hit.customer_id == party.customer_id, Hit.party_id == party.id)
        )
    )
    return _screen_targets(
        db,
        ctx,
        settings,
        party.customer_id,
        [(target_of(party), subject_of_party(party))],
        current_versions(db, ctx),
        tenant_threshold(db, ctx),
        existing,
    )


def withdraw_party_hits(db: Session, ctx: RequestContext, customer_id: str, party_id: str) -> int:
    """Withdraw the active hits of a party removed from the customer, whether
    or not the customer is monitored; they stay on record with their reviews."""
    hits = list(
        db.scalars(
            scoped(Hit, ctx).where(
                Hit.customer_id == customer_id, Hit.party_id == party_id, Hit.active.is_(True)
            )
        )
    )
    for hit in hits:
        withdraw_hit(db, ctx, hit, hit.list_version_id, "related party removed")
    return len(hits)


# ------------------------------------------------------------------ monitoring


def get_customer(db: Session, ctx: RequestContext, customer_id: str) -> Customer:
    return get_scoped(db, Customer, ctx, customer_id, what="Customer")


def monitor_customer(
    db: Session, ctx: RequestContext, settings: Settings, customer_id: str, enabled: bool
) -> MonitorResponse:
    """Enrol (or withdraw) a customer in ongoing screening; enrolling screens
    the customer and its related parties at once."""
    customer = get_customer(db, ctx, customer_id)
    monitor = db.scalars(scoped(Monitor, ctx).where(Monitor.customer_id == customer.id)).first()
    now = utcnow()
    if monitor is None:
        monitor = Monitor(**scope_values(ctx), customer_id=customer.id, enabled=enabled)
        db.add(monitor)
        changed = True
    else:
        changed = monitor.enabled != enabled
        monitor.enabled = enabled
        monitor.updated_at = now
    if changed:
        record_event(
            db,
            ctx,
            "screening.monitoring.enabled" if enabled else "screening.monitoring.disabled",
            customer_id=customer.id,
            payload={"customer_id": customer.id},
        )
    lists = current_versions(db, ctx)
    if enabled:
        screen_customer(db, ctx, settings, customer, lists, threshold=tenant_threshold(db, ctx))
        monitor.last_screened_at = now
    db.flush()
    hits = list(
        db.scalars(
            scoped(Hit, ctx)
            .where(Hit.customer_id == customer.id, Hit.active.is_(True))
            .order_by(Hit.score.desc(), Hit.id)
        )
    )
    names = {w.id: w.name for w, _ in lists}
    return MonitorResponse(
        customer_id=customer.id,
        monitoring=monitor.enabled,
        monitored_since=monitor.created_at,
        last_screened_at=monitor.last_screened_at,
        screened_lists=[_list_ref(w, v) for w, v in lists],
        summary=summary_out(hit_summary(db, ctx, customer.id)),
        hits=[hit_out(h, names.get(h.watchlist_id, "")) for h in hits],
    )


def _watchlist_names(db: Session, ctx: RequestContext) -> dict[str, str]:
    return {w.id: w.name for w in db.scalars(scoped(Watchlist, ctx))}


def hit_out(hit: Hit, watchlist_name: str) -> HitOut:
    return HitOut(
        id=hit.id,
        customer_id=hit.customer_id,
        party_id=hit.party_id,
        party_name=hit.party_name,
        watchlist=watchlist_name,
        list_version_id=hit.list_version_id,
        entity_id=hit.entity_id,
        entity_schema=hit.entity_schema,
        entity_caption=hit.entity_caption,
        topics=hit.topics,
        datasets=hit.datasets,
        score=hit.score,
        explanation=hit.explanation,
        status=hit.status,
        active=hit.active,
        review_note=hit.review_note,
        reviewed_at=hit.reviewed_at,
        reviewed_by=hit.reviewed_by,
        created_at=hit.created_at,
        updated_at=hit.updated_at,
    )


def list_hits(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    page: PageParams,
    *,
    status: HitStatus | None = None,
    include_inactive: bool = False,
) -> tuple[list[HitOut], int]:
    customer = get_customer(db, ctx, customer_id)
    stmt = scoped(Hit, ctx).where(Hit.customer_id == customer.id)
    if status is not None:
        stmt = stmt.where(Hit.status == status.value)
    if not include_inactive:
        stmt = stmt.where(Hit.active.is_(True))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(Hit.created_at.desc(), Hit.id.desc())
        .offset(page.offset)
        .limit(page.page_size)
    ).all()
    names = _watchlist_names(db, ctx)
    return [hit_out(h, names.get(h.watchlist_id, "")) for h in rows], total


def review_hit(db: Session, ctx: RequestContext, hit_id: str, body: ReviewRequest) -> HitOut:
    """Record a reviewer's decision: a guarded update, so of two concurrent
    reviews one wins and the other gets a 409."""
    hit = get_scoped(db, Hit, ctx, hit_id, what="Hit")
    previous = hit.status
    now = utcnow()
    result = db.execute(
        update(Hit)
        .where(
            Hit.id == hit.id,
            Hit.tenant_id == ctx.tenant_id,
            Hit.environment == ctx.environment,
            Hit.status == previous,
            Hit.entity_hash == hit.entity_hash,
        )
        .values(
            status=body.decision.value,
            review_note=body.note,
            reviewed_at=now,
            reviewed_by=ctx.actor_id,
            reviewed_entity_hash=hit.entity_hash,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("The hit changed while it was reviewed; review it again", "hit_conflict")
    db.refresh(hit)
    record_event(
        db,
        ctx,
        "screening.hit.reviewed",
        customer_id=hit.customer_id,
        payload={**_topics_event(hit), "previous_status": previous, "note": body.note},
    )
    watchlist = db.get(Watchlist, hit.watchlist_id)
    return hit_out(hit, watchlist.name if watchlist else "")


# ------------------------------------------------------------------ summary

SANCTION_TOPICS = ("sanction", "debarment", "export.control", "asset.frozen")
PEP_TOPICS = ("role.pep", "role.rca", "role.spy", "gov.")
ADVERSE_TOPICS = ("crime", "reg.", "poi", "wanted", "fin.", "corp.disqual")


def _has(topics: Iterable[str], prefixes: tuple[str, ...]) -> bool:
    return any(t.startswith(prefixes) for t in topics)


@dataclass(frozen=True)
class HitSummary:
    """A customer's screening state, for the policy (the ``aml`` step, the
    ``COMPLIANCE`` check). Counts cover the active hits on the customer and on
    its related parties that are open or confirmed; ``sanctions`` / ``pep`` / ``adverse_media`` count those hits by
    the FtM topics of their list entity (a hit may count in several)."""

    monitored: bool
    open_hits: int
    confirmed_hits: int
    false_positive_hits: int
    sanctions: int
    pep: int
    adverse_media: int

    @property
    def clear(self) -> bool:
        return self.open_hits == 0 and self.confirmed_hits == 0


def hit_summary(db: Session, ctx: RequestContext, customer_id: str) -> HitSummary:
    return hit_summaries(db, ctx, [customer_id])[customer_id]


def hit_summaries(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, HitSummary]:
    """:func:`hit_summary` of each of these customers, in two queries."""
    ids = list(customer_ids)
    # Two columns, not the hits: risk, compliance and the aml step read this
    # for every customer a re-screen finds hits for, and a hit's explanation
    # is a sizeable JSON document.
    rows: dict[str, list[tuple[str, list[str]]]] = {customer_id: [] for customer_id in ids}
    for customer_id, status, topics in db.execute(
        scoped(Hit, ctx)
        .with_only_columns(Hit.customer_id, Hit.status, Hit.topics)
        .where(Hit.customer_id.in_(ids), Hit.active.is_(True))
    ):
        rows[customer_id].append((status, topics or []))
    monitored = set(
        db.scalars(
            scoped(Monitor, ctx)
            .with_only_columns(Monitor.customer_id)
            .where(Monitor.customer_id.in_(ids), Monitor.enabled.is_(True))
        )
    )
    return {
        customer_id: _summary(customer_id in monitored, hits) for customer_id, hits in rows.items()
    }


def _summary(monitored: bool, hits: list[tuple[str, list[str]]]) -> HitSummary:
    statuses = Counter(status for status, _ in hits)
    relevant = [topics for status, topics in hits if status != HitStatus.FALSE_POSITIVE.value]
    return HitSummary(
        monitored=monitored,
        open_hits=statuses[HitStatus.OPEN.value],
        confirmed_hits=statuses[HitStatus.CONFIRMED.value],
        false_positive_hits=statuses[HitStatus.FALSE_POSITIVE.value],
        sanctions=sum(1 for t in relevant if _has(t, SANCTION_TOPICS)),
        pep=sum(1 for t in relevant if _has(t, PEP_TOPICS)),
        adverse_media=sum(1 for t in relevant if _has(t, ADVERSE_TOPICS)),
    )


def summary_out(summary: HitSummary) -> HitSummaryOut:
    return HitSummaryOut(
        open_hits=summary.open_hits,
        confirmed_hits=summary.confirmed_hits,
        false_positive_hits=summary.false_positive_hits,
        sanctions=summary.sanctions,
        pep=summary.pep,
        adverse_media=summary.adverse_media,
    )
