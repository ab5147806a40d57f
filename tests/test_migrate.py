"""Schema changes go through Alembic: the migrated database is the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import kycd.models  # noqa: F401  (every domain's models on Base.metadata)
from kycd.db import Base, Database


def test_the_migrations_build_exactly_the_models_schema(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
