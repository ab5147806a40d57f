"""Running Alembic migrations from code (the CLI, the tests, ``make run``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                hint_sqlite_planner(connection)
        finally:
            engine.dispose()


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


# What the hints tell SQLite about an index that starts with the tenant: the
# table is large, one tenant (and environment) holds all of it (the usual
# self-hosted install has one tenant), and each further column narrows it to
# a few rows (one, for the last column of a unique index).
TABLE_ROWS = 1_000_000
SCOPE_COLUMNS = ("tenant_id", "environment")


def _hint(columns: list[str], unique: bool) -> str:
    rows = [TABLE_ROWS]
    for position in range(len(columns)):
        if tuple(columns[: position + 1]) == SCOPE_COLUMNS[: position + 1]:
            rows.append(TABLE_ROWS)
        else:
            rows.append(1 if unique and position == len(columns) - 1 else 10)
    return " ".join(str(n) for n in rows)


def hint_sqlite_planner(connection: Connection) -> None:
    """Tell SQLite's query planner that the tenant narrows nothing.

    Every query is scoped by tenant (kycd.tenancy.scoping), and without
    statistics SQLite prefers an index with more of its columns constrained:
    for ``tenant_id = ? AND environment = ? AND customer_id IN (…)`` it walked
    the whole tenant's rows through ``ix_<table>_tenant_id`` (or a unique index
    on tenant, environment and a number) instead of looking the customers up
    in the customer index: a re-screen batch read every risk profile of the
    tenant. ``ANALYZE`` would teach it that, but only once the tables are
    full; the statistics table may be written by hand for exactly this
    (sqlite.org/optoverview.html#manual_control_of_query_plans_using_sqlite_stat_tables).
    Hints go only to indexes that start with ``tenant_id`` and have no
    statistic yet, so a real ``ANALYZE`` stays in charge."""
    connection.execute(text("ANALYZE sqlite_schema"))  # creates sqlite_stat1
    known = {
        (table, index)
        for table, index in connection.execute(text("SELECT tbl, idx FROM sqlite_stat1"))
    }
    tables = connection.execute(
        text("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ).scalars()
    for table in list(tables):
        for index in connection.execute(text(f'PRAGMA index_list("{table}")')).mappings():
            name = index["name"]
            columns = [
                c["name"]
                for c in connection.execute(text(f'PRAGMA index_info("{name}")')).mappings()
            ]
            if columns[:1] == ["tenant_id"] and (table, name) not in known:
                connection.execute(
                    text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:t, :i, :s)"),
                    {"t": table, "i": name, "s": _hint(columns, bool(index["unique"]))},
                )
    connection.execute(text("ANALYZE sqlite_schema"))  # this connection reloads them
