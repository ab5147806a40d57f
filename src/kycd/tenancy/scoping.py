"""Tenant and environment scoping, in one place.

Domain services never write ``WHERE tenant_id = …`` themselves: they start their
queries from :func:`scoped` and fetch single rows with :func:`get_scoped`, so a
row of another tenant or environment is indistinguishable from a missing one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from kycd.db import TenantScopedMixin
from kycd.errors import NotFound
from kycd.tenancy.context import RequestContext

M = TypeVar("M", bound=TenantScopedMixin)


def scoped(model: type[M], ctx: RequestContext) -> Select[M]:
    return select(model).where(
        model.tenant_id == ctx.tenant_id, model.environment == ctx.environment
    )


def get_scoped(
    db: Session, model: type[M], ctx: RequestContext, ident: Any, *, what: str, **filters: Any
) -> M:
    stmt = scoped(model, ctx).where(model.id == ident)  # type: ignore[attr-defined]
    for name, value in filters.items():
        stmt = stmt.where(getattr(model, name) == value)
    row = db.scalars(stmt).first()
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def scope_values(ctx: RequestContext) -> dict[str, str]:
    """Column values for a new tenant-scoped row."""
    return {"tenant_id": ctx.tenant_id, "environment": ctx.environment}


def rows_by_customer(
    db: Session,
    model: type[M],
    ctx: RequestContext,
    customer_ids: Collection[str],
    *order_by: InstrumentedAttribute[Any],
) -> dict[str, list[M]]:
    """The rows of ``model`` belonging to each of these customers (each list in
    ``order_by`` order; a customer without rows gets an empty list), in one query."""
    column = model.customer_id  # type: ignore[attr-defined]
    grouped: dict[str, list[M]] = {customer_id: [] for customer_id in customer_ids}
    for row in db.scalars(scoped(model, ctx).where(column.in_(list(grouped))).order_by(*order_by)):
        grouped[row.customer_id].append(row)  # type: ignore[attr-defined]
    return grouped
