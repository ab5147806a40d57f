"""Test fixtures: one database per backend, a real app, and factories.

Every test that takes ``database`` (directly or through ``client``) runs twice:
on SQLite and on PostgreSQL. The PostgreSQL server is the one on this machine
(``KYCD_TEST_POSTGRES_ADMIN_URL``); each test run creates a throwaway database
and drops it at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Select, create_engine, text

from kycd.app import create_app
from kycd.db import Database
from kycd.migrate import upgrade
from kycd.models import Base
from kycd.settings import Settings
from kycd.tenancy.service import IssuedCredential, _auth_cache, issue_credential

# Shared fixtures of other test packages, offered here because a second
# conftest.py in a sub-folder would shadow this module (tests import it by name).
from webhook_harness import receiver, rounds  # noqa: F401  (fixtures)

POSTGRES_ADMIN_URL = os.environ.get(
    "KYCD_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgres"]
TEST_SECRET = b"test-server-secret"


def _create_postgres_database() -> tuple[str, Callable[[], None]]:
    name = f"kycd_test_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "kycd.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    url, drop = _create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop()


@pytest.fixture(scope="session")
def _session_database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _empty_all_tables(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def database(_session_database: Database) -> Iterator[Database]:
    """A migrated, empty database, on each backend in turn."""
    _auth_cache.clear()
    yield _session_database
    _empty_all_tables(_session_database)


@pytest.fixture
def backend(database: Database) -> str:
    return database.engine.dialect.name


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        allowed_private_networks=["127.0.0.0/8", "::1/128"],
    )


@pytest.fixture
def app_client(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("KYCD_SECRET_KEY", TEST_SECRET.decode())
    app = create_app(settings, database)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


class Credentials:
    """An issued credential and the headers of both auth schemes."""

    def __init__(self, issued: IssuedCredential) -> None:
        self.issued = issued

    @property
    def tenant_id(self) -> str:
        return self.issued.tenant_id

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issued.bearer_token}"}

    @property
    def api_key_headers(self) -> dict[str, str]:
        return {
            "X-Api-Key": self.issued.api_key,
            "X-Api-Secret": self.issued.api_secret,
            "X-Environment": self.issued.environment,
        }


ALL = ["kyc:read", "kyc:create", "kyc:update", "kyc:review", "kyc:admin"]


@pytest.fixture
def make_credentials(database: Database) -> Callable[..., Credentials]:
    def make(
        tenant: str = "acme", environment: str = "sandbox", scopes: list[str] | None = None
    ) -> Credentials:
        with database.transaction() as db:
            issued = issue_credential(
                db, TEST_SECRET, tenant_name=tenant, environment=environment, scopes=scopes or ALL
            )
        return Credentials(issued)

    return make


@pytest.fixture
def creds(make_credentials: Callable[..., Credentials]) -> Credentials:
    return make_credentials()


class Api:
    """A TestClient bound to one credential: ``api.post("/v1/customers", json=…)``."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.request("PATCH", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)


@pytest.fixture
def api(app_client: TestClient, creds: Credentials) -> Api:
    return Api(app_client, creds.bearer)


@pytest.fixture
def api_as(
    app_client: TestClient, make_credentials: Callable[..., Credentials]
) -> Callable[..., Api]:
    def make(
        tenant: str = "acme", environment: str = "sandbox", scopes: list[str] | None = None
    ) -> Api:
        return Api(app_client, make_credentials(tenant, environment, scopes).bearer)

    return make


def drop_loop_connections(database: Database, statement: Select[Any]) -> int:
    """Close the connections the event loop's reads of ``statement`` keep, as
    a database restart would: the next read fails with the driver's error.
    Answers how many were closed."""
    idle = database.prepared(statement)._idle
    for connection in idle:
        connection.driver_connection.close()  # type: ignore[union-attr]
    return len(idle)
