"""``PreparedRead``: one compiled SELECT on a connection of its own, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select

from kycd.db import Database
from kycd.tenancy.models import Tenant

_TENANT = select(Tenant.name, Tenant.settings, Tenant.created_at).where(
    Tenant.id == bindparam("tenant_id")
)


def _tenant(database: Database, name: str, settings: dict[str, object]) -> str:
    with database.transaction() as db:
        tenant = Tenant(
            name=name, settings=settings, created_at=datetime(2026, 1, 2, 3, tzinfo=UTC)
        )
        db.add(tenant)
        db.flush()
        return tenant.id


def test_rows_come_back_as_the_column_types_make_them(database: Database) -> None:
    tenant_id = _tenant(database, "acme", {"compliance": {"kyc_validity_months": 12}})
    read = database.prepared(_TENANT)
    assert database.prepared(_TENANT) is read  # compiled once per database
    assert read.all(tenant_id=tenant_id) == [
        (
            "acme",
            {"compliance": {"kyc_validity_months": 12}},
            datetime(2026, 1, 2, 3, tzinfo=UTC),
        )
    ]
    assert read.all(tenant_id="no-such-tenant") == []


def test_a_read_sees_what_was_committed_after_the_previous_read(database: Database) -> None:
    # Autocommit: the held connection keeps no snapshot between two reads.
    tenant_id = _tenant(database, "acme", {})
    read = database.prepared(_TENANT)
    assert read.all(tenant_id=tenant_id)[0][1] == {}
    with database.transaction() as db:
        tenant = db.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.settings = {"risk": {}}
    assert read.all(tenant_id=tenant_id)[0][1] == {"risk": {}}


def test_a_broken_connection_is_dropped_and_the_next_read_reconnects(database: Database) -> None:
    tenant_id = _tenant(database, "acme", {})
    read = database.prepared(_TENANT)
    assert read.all(tenant_id=tenant_id)
    read._idle[-1].driver_connection.close()  # type: ignore[union-attr]  # the server went away
    with pytest.raises(read.errors):
        read.all(tenant_id=tenant_id)
    assert read.all(tenant_id=tenant_id)


def test_a_value_the_driver_refuses_keeps_the_connection(database: Database) -> None:
    tenant_id = _tenant(database, "acme", {})
    read = database.prepared(_TENANT)
    assert read.all(tenant_id=tenant_id)
    connection = read._idle[-1]
    if database.engine.dialect.name == "sqlite":
        assert read.all(tenant_id="a\x00b") == []  # SQLite stores NUL bytes
    else:
        with pytest.raises(read.errors):  # psycopg refuses them in text
            read.all(tenant_id="a\x00b")
    assert list(read._idle) == [connection]
    assert read.all(tenant_id=tenant_id)
