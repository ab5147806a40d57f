"""Schema changes go through Alembic: the migrated database is the models' schema."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import kycd.models  # noqa: F401  (every domain's models on Base.metadata)
from kycd.db import Base, Database, TenantScopedMixin
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scoped


def test_the_migrations_build_exactly_the_models_schema(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_sqlite_looks_customers_up_by_their_own_index(database: Database) -> None:
    """Tenant-scoped reads of a batch of customers must find the rows through
    an index on ``customer_id``, not walk the tenant's rows through its
    ``tenant_id`` index (kycd.migrate.hint_sqlite_planner) or another one."""
    if not database.url.startswith("sqlite"):
        pytest.skip("PostgreSQL plans from the statistics autovacuum gathers")
    ctx = RequestContext("tenant", "sandbox")
    models = [
        m.class_
        for m in Base.registry.mappers
        if issubclass(m.class_, TenantScopedMixin) and "customer_id" in m.columns
    ]
    assert len(models) >= 10
    misses = {}
    with database.engine.connect() as connection:
        for model in models:
            stmt = scoped(model, ctx).where(model.customer_id.in_(["a", "b", "c"]))
            sql = str(stmt.compile(connection, compile_kwargs={"literal_binds": True}))
            plan = " ".join(
                row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
            used = re.search(r"USING (?:COVERING )?INDEX (\S+)", plan)
            columns = (
                [
                    row[2]
                    for row in connection.exec_driver_sql(f"PRAGMA index_info('{used.group(1)}')")
                ]
                if used
                else []
            )
            if "customer_id" not in columns:
                misses[model.__tablename__] = plan
    assert misses == {}
