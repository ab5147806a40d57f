"""Related parties and ownership of business customers, and their UBOs.

Writes lock the business customer's row first (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite serialises writers anyway), so two concurrent additions
cannot together push a company's shares past 100 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from kycd.customers.models import Customer, CustomerType
from kycd.db import utcnow
from kycd.errors import BadRequest, Conflict, NotFound
from kycd.events.service import record_event
from kycd.organization import ubo
from kycd.organization.models import OwnershipEdge, PartyRole, PartyType, RelatedParty
from kycd.organization.schemas import (
    ChainLink,
    ChainOut,
    OrganizationOut,
    OrganizationSettings,
    OrganizationSettingsOut,
    OwnershipAnalysis,
    OwnershipCreate,
    OwnershipOut,
    OwnershipUpdate,
    PartyCreate,
    PartyOut,
    PartyUpdate,
    UboOut,
)
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.scoping import get_scoped, scope_values, scoped
from kycd.tenancy.service import tenant_for_update

PARTY_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "date_of_birth",
    "nationality",
    "country",
    "registration_number",
    "title",
)
# Customer fields a linked party takes over when the request leaves them out.
LINKED_FIELDS = {
    PartyType.PERSON: {
        "first_name": "first_name",
        "last_name": "last_name",
        "date_of_birth": "date_of_birth",
        "nationality": "nationality",
        "country": "country_of_residence",
    },
    PartyType.COMPANY: {
        "company_name": "company_name",
        "registration_number": "registration_number",
        "country": "incorporation_country",
    },
}
CUSTOMER_TYPE_OF = {
    PartyType.PERSON: CustomerType.INDIVIDUAL,
    PartyType.COMPANY: CustomerType.BUSINESS,
}
HUNDRED = Decimal(100)


# --- reading -----------------------------------------------------------------


def ubo_threshold(db: Session, ctx: RequestContext) -> Fraction:
    """``Tenant.settings["organization"]["ubo_threshold"]`` (percent), default 25."""
    tenant = db.get(Tenant, ctx.tenant_id)
    config: Any = (tenant.settings or {}).get("organization", {}) if tenant else {}
    value = config.get("ubo_threshold") if isinstance(config, dict) else None
    if value is None:
        return ubo.DEFAULT_THRESHOLD
    threshold = Fraction(str(value))
    if not 0 < threshold <= 100:
        raise BadRequest(
            "tenant setting organization.ubo_threshold must be in (0, 100]",
            field="ubo_threshold",
        )
    return threshold


def get_settings(db: Session, ctx: RequestContext) -> OrganizationSettingsOut:
    return OrganizationSettingsOut(ubo_threshold=_pct(ubo_threshold(db, ctx)))


def put_settings(
    db: Session, ctx: RequestContext, data: OrganizationSettings
) -> OrganizationSettingsOut:
    """Set the tenant's UBO threshold. Stored as a string so that no decimal
    is lost to a float on the way through JSON."""
    tenant = tenant_for_update(db, ctx)
    organization = {"ubo_threshold": str(data.ubo_threshold.normalize())}
    tenant.settings = {**(tenant.settings or {}), "organization": organization}
    db.flush()
    record_event(db, ctx, "organization.settings_updated", payload=organization)
    return get_settings(db, ctx)


def _customer(db: Session, ctx: RequestContext, customer_id: str, *, lock: bool) -> Customer:
    stmt = scoped(Customer, ctx).where(Customer.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    customer = db.scalars(stmt).first()
    if customer is None:
        raise NotFound("Customer not found")
    return customer


def _business_for_write(db: Session, ctx: RequestContext, customer_id: str) -> Customer:
    customer = _customer(db, ctx, customer_id, lock=True)
    if customer.type != CustomerType.BUSINESS.value:
        raise BadRequest(
            "organisation structure applies to business customers only",
            code="not_a_business",
        )
    return customer


def _parties(db: Session, ctx: RequestContext, customer_id: str) -> list[RelatedParty]:
    return list(
        db.scalars(
            scoped(RelatedParty, ctx)
            .where(RelatedParty.customer_id == customer_id)
            .order_by(RelatedParty.created_at, RelatedParty.id)
        )
    )


def _edges(db: Session, ctx: RequestContext, customer_id: str) -> list[OwnershipEdge]:
    return list(
        db.scalars(
            scoped(OwnershipEdge, ctx)
            .where(OwnershipEdge.customer_id == customer_id)
            .order_by(OwnershipEdge.created_at, OwnershipEdge.id)
        )
    )


@dataclass(frozen=True)
class Structure:
    """A business customer's parties and edges, and the UBO analysis over them."""

    customer: Customer
    parties: list[RelatedParty]
    edges: list[OwnershipEdge]
    result: ubo.UboResult


def senior_managing_officials(parties: Sequence[RelatedParty]) -> list[str]:
    """Natural persons who direct the company: its directors, or failing any,
    its legal representatives, in the order they were recorded."""
    persons = [p for p in parties if p.type == PartyType.PERSON.value]
    for role in (PartyRole.DIRECTOR, PartyRole.REPRESENTATIVE):
        found = [p.id for p in persons if role.value in p.roles]
        if found:
            return found
    return []


def analyse(db: Session, ctx: RequestContext, customer: Customer) -> Structure:
    parties = _parties(db, ctx, customer.id)
    edges = _edges(db, ctx, customer.id)
    kinds = {p.id: ubo.NodeKind(p.type) for p in parties}
    kinds[customer.id] = ubo.NodeKind.COMPANY
    holdings = [
        ubo.Holding.of(e.owner_party_id, e.owned_party_id or customer.id, e.percentage)
        for e in edges
    ]
    result = ubo.compute_ubos(
        customer.id,
        kinds,
        holdings,
        threshold=ubo_threshold(db, ctx),
        senior_managing_officials=senior_managing_officials(parties),
    )
    return Structure(customer, parties, edges, result)


def structure(db: Session, ctx: RequestContext, customer_id: str) -> Structure:
    return analyse(db, ctx, _customer(db, ctx, customer_id, lock=False))


def ubos(db: Session, ctx: RequestContext, customer_id: str) -> list[UboOut]:
    """The customer's beneficial owners (empty for an individual)."""
    found = structure(db, ctx, customer_id)
    return _ubos_out(found)


def get_organization(db: Session, ctx: RequestContext, customer_id: str) -> OrganizationOut:
    found = structure(db, ctx, customer_id)
    shares = _direct_shares(found.edges)
    parties = [party_out(p, shares.get(p.id)) for p in found.parties]
    result = found.result

    def having(role: PartyRole) -> list[PartyOut]:
        return [p for p in parties if role.value in p.roles]

    shareholders = sorted(
        having(PartyRole.SHAREHOLDER), key=lambda p: (-(p.ownership_percentage or 0), p.name)
    )
    return OrganizationOut(
        customer_id=found.customer.id,
        ubo_threshold=float(result.threshold),
        ubo_basis=result.basis.value,
        ubos=_ubos_out(found),
        shareholders=shareholders,
        directors=having(PartyRole.DIRECTOR),
        representatives=having(PartyRole.REPRESENTATIVE),
        authorised_signatories=having(PartyRole.AUTHORISED_SIGNATORY),
        related_parties=parties,
        ownership=[ownership_out(e) for e in found.edges],
        ownership_analysis=OwnershipAnalysis(
            traced_percentage=_pct(ubo.HUNDRED - result.untraced),
            untraced_percentage=_pct(result.untraced),
            circular=result.circular,
            max_chain_length=result.depth,
            truncated=result.truncated,
            opaque_company_ids=list(result.opaque_companies),
        ),
    )


def _pct(value: Fraction) -> float:
    return round(float(value), 4)


def display_name(party: RelatedParty) -> str:
    if party.type == PartyType.COMPANY.value:
        return party.company_name or ""
    return " ".join(n for n in (party.first_name, party.last_name) if n)


def _customer_name(customer: Customer) -> str:
    if customer.company_name:
        return customer.company_name
    names = (customer.first_name, customer.last_name)
    return " ".join(n for n in names if n) or customer.client_id


def _ubos_out(found: Structure) -> list[UboOut]:
    by_id = {p.id: p for p in found.parties}
    root_name = _customer_name(found.customer)

    def name_of(node: str) -> str:
        return display_name(by_id[node]) if node in by_id else root_name

    def chain_out(chain: ubo.Chain) -> ChainOut:
        links = [
            ChainLink(
                owner_party_id=owner,
                owner_name=name_of(owner),
                owned_party_id=owned if owned in by_id else None,
                owned_name=name_of(owned),
                percentage=_pct(share),
            )
            for owner, owned, share in zip(chain.nodes, chain.nodes[1:], chain.shares, strict=False)
        ]
        return ChainOut(effective_ownership=_pct(chain.effective), links=links)

    out = []
    for owner in found.result.owners:
        party = by_id[owner.party]
        out.append(
            UboOut(
                party_id=party.id,
                name=display_name(party),
                linked_customer_id=party.linked_customer_id,
                date_of_birth=party.date_of_birth,
                nationality=party.nationality,
                country=party.country,
                basis=owner.basis.value,
                effective_ownership=_pct(owner.effective),
                chains=[chain_out(c) for c in owner.chains],
            )
        )
    if found.result.basis is ubo.Basis.OWNERSHIP:
        out.sort(key=lambda u: (-u.effective_ownership, u.name, u.party_id))
    return out


def _direct_shares(edges: Sequence[OwnershipEdge]) -> dict[str, Decimal]:
    return {e.owner_party_id: e.percentage for e in edges if e.owned_party_id is None}


def party_out(party: RelatedParty, share: Decimal | None) -> PartyOut:
    roles = list(party.roles)
    if share is not None:
        roles.insert(0, PartyRole.SHAREHOLDER.value)
    return PartyOut(
        id=party.id,
        type=party.type,
        name=display_name(party),
        linked_customer_id=party.linked_customer_id,
        roles=roles,
        ownership_percentage=float(share) if share is not None else None,
        created_at=party.created_at,
        updated_at=party.updated_at,
        **{name: getattr(party, name) for name in PARTY_FIELDS},
    )


def ownership_out(edge: OwnershipEdge) -> OwnershipOut:
    return OwnershipOut(
        id=edge.id,
        owner_party_id=edge.owner_party_id,
        owned_party_id=edge.owned_party_id,
        percentage=float(edge.percentage),
        created_at=edge.created_at,
        updated_at=edge.updated_at,
    )


# --- writing -----------------------------------------------------------------


def _linked_customer(
    db: Session, ctx: RequestContext, business: Customer, data: PartyCreate
) -> Customer | None:
    if data.linked_customer_id is None:
        return None
    linked = db.scalars(scoped(Customer, ctx).where(Customer.id == data.linked_customer_id)).first()
    # Another tenant's customer is as unknown as a missing one.
    if linked is None:
        raise BadRequest("customer not found", field="linked_customer_id")
    if linked.id == business.id:
        raise BadRequest("a customer cannot be its own related party", field="linked_customer_id")
    if linked.type != CUSTOMER_TYPE_OF[data.type].value:
        raise BadRequest(
            f"a {data.type.value} party must link to a {CUSTOMER_TYPE_OF[data.type].value} customer",
            field="linked_customer_id",
        )
    return linked


def _require_names(party: RelatedParty) -> None:
    if party.type == PartyType.COMPANY.value:
        if not party.company_name:
            raise BadRequest("company_name is required for a company", field="company_name")
        return
    for name in ("first_name", "last_name"):
        if not getattr(party, name):
            raise BadRequest(f"{name} is required for a person", field=name)


def _roles(roles: Sequence[PartyRole]) -> list[str]:
    return [r.value for r in dict.fromkeys(roles) if r is not PartyRole.SHAREHOLDER]


def _check_total(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    owned_party_id: str | None,
    percentage: Decimal,
    *,
    field: str,
    replacing: str | None = None,
) -> None:
    """One company's recorded shares may not add up to more than 100 %."""
    stmt = scoped(OwnershipEdge, ctx).where(OwnershipEdge.customer_id == customer_id)
    if owned_party_id is None:
        stmt = stmt.where(OwnershipEdge.owned_party_id.is_(None))
    else:
        stmt = stmt.where(OwnershipEdge.owned_party_id == owned_party_id)
    others = [e.percentage for e in db.scalars(stmt) if e.id != replacing]
    total = sum(others, Decimal(0)) + percentage
    if total > HUNDRED:
        free = HUNDRED - sum(others, Decimal(0))
        raise BadRequest(
            f"shares of one company may not exceed 100% (recorded {total.normalize()}%; "
            f"at most {free.normalize()}% is unallocated)",
            field=field,
        )


def _root_edge(
    db: Session, ctx: RequestContext, customer_id: str, party_id: str
) -> OwnershipEdge | None:
    return db.scalars(
        scoped(OwnershipEdge, ctx).where(
            OwnershipEdge.customer_id == customer_id,
            OwnershipEdge.owner_party_id == party_id,
            OwnershipEdge.owned_party_id.is_(None),
        )
    ).first()


def _set_shareholding(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    party: RelatedParty,
    percentage: Decimal | None,
) -> OwnershipEdge | None:
    edge = _root_edge(db, ctx, customer_id, party.id)
    if percentage is None:
        if edge is not None:
            db.delete(edge)
        return None
    _check_total(
        db,
        ctx,
        customer_id,
        None,
        percentage,
        field="ownership_percentage",
        replacing=edge.id if edge else None,
    )
    if edge is None:
        edge = OwnershipEdge(
            **scope_values(ctx),
            customer_id=customer_id,
            owner_party_id=party.id,
            owned_party_id=None,
            percentage=percentage,
        )
        db.add(edge)
    elif edge.percentage != percentage:
        edge.percentage = percentage
        edge.updated_at = utcnow()
    return edge


def _shareholding_error(message: str) -> BadRequest:
    return BadRequest(message, field="ownership_percentage")


REQUIRED_FOR_SHAREHOLDER = "ownership_percentage is required for a shareholder"
ONLY_FOR_SHAREHOLDER = "ownership_percentage is only allowed with the shareholder role"


def add_party(db: Session, ctx: RequestContext, customer_id: str, data: PartyCreate) -> PartyOut:
    is_shareholder = PartyRole.SHAREHOLDER in data.roles
    if is_shareholder and data.ownership_percentage is None:
        raise _shareholding_error(REQUIRED_FOR_SHAREHOLDER)
    if not is_shareholder and data.ownership_percentage is not None:
        raise _shareholding_error(ONLY_FOR_SHAREHOLDER)
    business = _business_for_write(db, ctx, customer_id)
    linked = _linked_customer(db, ctx, business, data)
    values = {name: getattr(data, name) for name in PARTY_FIELDS}
    if linked is not None:
        for mine, theirs in LINKED_FIELDS[data.type].items():
            if values[mine] is None:
                values[mine] = getattr(linked, theirs)
    party = RelatedParty(
        **scope_values(ctx),
        customer_id=business.id,
        type=data.type.value,
        linked_customer_id=linked.id if linked else None,
        roles=_roles(data.roles),
        **values,
    )
    _require_names(party)
    db.add(party)
    db.flush()
    percentage = data.ownership_percentage
    _set_shareholding(db, ctx, business.id, party, percentage)
    db.flush()
    record_event(
        db,
        ctx,
        "organization.party_added",
        customer_id=business.id,
        payload={
            "customerId": business.id,
            "partyId": party.id,
            "type": party.type,
            "roles": party_out(party, percentage).roles,
        },
    )
    return party_out(party, percentage)


def _get_party(db: Session, ctx: RequestContext, customer_id: str, party_id: str) -> RelatedParty:
    return get_scoped(
        db, RelatedParty, ctx, party_id, what="Related party", customer_id=customer_id
    )


def update_party(
    db: Session, ctx: RequestContext, customer_id: str, party_id: str, data: PartyUpdate
) -> PartyOut:
    business = _business_for_write(db, ctx, customer_id)
    party = _get_party(db, ctx, business.id, party_id)
    sent = data.model_fields_set
    changed = [
        name
        for name in PARTY_FIELDS
        if name in sent and getattr(party, name) != getattr(data, name)
    ]
    for name in changed:
        setattr(party, name, getattr(data, name))
    _require_names(party)
    edge = _root_edge(db, ctx, business.id, party.id)
    current = edge.percentage if edge else None
    wanted = _wanted_share(data, current)
    if "roles" in sent and data.roles is not None and _roles(data.roles) != party.roles:
        party.roles = _roles(data.roles)
        changed.append("roles")
    if wanted != current:
        _set_shareholding(db, ctx, business.id, party, wanted)
        changed.append("ownership_percentage")
    if changed:
        party.updated_at = utcnow()
        db.flush()
        record_event(
            db,
            ctx,
            "organization.party_updated",
            customer_id=business.id,
            payload={"customerId": business.id, "partyId": party.id, "changedFields": changed},
        )
    return party_out(party, wanted)


def _wanted_share(data: PartyUpdate, current: Decimal | None) -> Decimal | None:
    """The shareholding after a PATCH: the role and the percentage move together."""
    sent = data.model_fields_set
    percentage_sent = "ownership_percentage" in sent
    if "roles" in sent and data.roles is not None:
        if PartyRole.SHAREHOLDER not in data.roles:
            if percentage_sent and data.ownership_percentage is not None:
                raise _shareholding_error(ONLY_FOR_SHAREHOLDER)
            return None
        wanted = data.ownership_percentage if percentage_sent else current
        if wanted is None:
            raise _shareholding_error(REQUIRED_FOR_SHAREHOLDER)
        return wanted
    if percentage_sent:
        if current is None:
            raise _shareholding_error(ONLY_FOR_SHAREHOLDER)
        if data.ownership_percentage is None:
            raise _shareholding_error("remove the shareholder role to end a shareholding")
        return data.ownership_percentage
    return current


def remove_party(db: Session, ctx: RequestContext, customer_id: str, party_id: str) -> None:
    business = _business_for_write(db, ctx, customer_id)
    party = _get_party(db, ctx, business.id, party_id)
    db.execute(
        delete(OwnershipEdge)
        .where(
            OwnershipEdge.customer_id == business.id,
            or_(OwnershipEdge.owner_party_id == party.id, OwnershipEdge.owned_party_id == party.id),
        )
        .execution_options(synchronize_session="fetch")
    )
    db.delete(party)
    db.flush()
    record_event(
        db,
        ctx,
        "organization.party_removed",
        customer_id=business.id,
        payload={"customerId": business.id, "partyId": party.id},
    )


def add_ownership(
    db: Session, ctx: RequestContext, customer_id: str, data: OwnershipCreate
) -> OwnershipOut:
    business = _business_for_write(db, ctx, customer_id)
    if data.owner_party_id == data.owned_party_id:
        raise BadRequest("a party cannot own itself", field="owned_party_id")
    owned = _party_ref(db, ctx, business.id, data.owned_party_id, "owned_party_id")
    _party_ref(db, ctx, business.id, data.owner_party_id, "owner_party_id")
    if owned.type != PartyType.COMPANY.value:
        raise BadRequest("only a company can be owned", field="owned_party_id")
    duplicate = db.scalars(
        scoped(OwnershipEdge, ctx).where(
            OwnershipEdge.customer_id == business.id,
            OwnershipEdge.owner_party_id == data.owner_party_id,
            OwnershipEdge.owned_party_id == data.owned_party_id,
        )
    ).first()
    if duplicate is not None:
        raise Conflict(
            f"ownership {duplicate.id} already links these parties; change its percentage",
            "ownership_exists",
        )
    _check_total(db, ctx, business.id, owned.id, data.percentage, field="percentage")
    edge = OwnershipEdge(
        **scope_values(ctx),
        customer_id=business.id,
        owner_party_id=data.owner_party_id,
        owned_party_id=owned.id,
        percentage=data.percentage,
    )
    db.add(edge)
    db.flush()
    record_event(
        db,
        ctx,
        "organization.ownership_added",
        customer_id=business.id,
        payload={
            "customerId": business.id,
            "ownershipId": edge.id,
            "ownerPartyId": edge.owner_party_id,
            "ownedPartyId": edge.owned_party_id,
            "percentage": float(edge.percentage),
        },
    )
    return ownership_out(edge)


def _party_ref(
    db: Session, ctx: RequestContext, customer_id: str, party_id: str, field: str
) -> RelatedParty:
    party = db.scalars(
        scoped(RelatedParty, ctx).where(
            RelatedParty.id == party_id, RelatedParty.customer_id == customer_id
        )
    ).first()
    if party is None:
        raise BadRequest("related party not found in this organisation", field=field)
    return party


def _get_edge(db: Session, ctx: RequestContext, customer_id: str, edge_id: str) -> OwnershipEdge:
    edge = get_scoped(db, OwnershipEdge, ctx, edge_id, what="Ownership", customer_id=customer_id)
    return edge


def update_ownership(
    db: Session, ctx: RequestContext, customer_id: str, edge_id: str, data: OwnershipUpdate
) -> OwnershipOut:
    business = _business_for_write(db, ctx, customer_id)
    edge = _get_edge(db, ctx, business.id, edge_id)
    if edge.percentage != data.percentage:
        _check_total(
            db,
            ctx,
            business.id,
            edge.owned_party_id,
            data.percentage,
            field="percentage",
            replacing=edge.id,
        )
        previous = edge.percentage
        edge.percentage = data.percentage
        edge.updated_at = utcnow()
        db.flush()
        record_event(
            db,
            ctx,
            "organization.ownership_updated",
            customer_id=business.id,
            payload={
                "customerId": business.id,
                "ownershipId": edge.id,
                "from": float(previous),
                "to": float(edge.percentage),
            },
        )
    return ownership_out(edge)


def remove_ownership(db: Session, ctx: RequestContext, customer_id: str, edge_id: str) -> None:
    business = _business_for_write(db, ctx, customer_id)
    edge = _get_edge(db, ctx, business.id, edge_id)
    db.delete(edge)
    db.flush()
    record_event(
        db,
        ctx,
        "organization.ownership_removed",
        customer_id=business.id,
        payload={"customerId": business.id, "ownershipId": edge.id},
    )
