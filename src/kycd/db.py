"""Database engine, session factory and the column types shared by every domain.

SQLite (the embedded default) and PostgreSQL run the same models and the same
Alembic migrations. The few differences (pragmas, JSONB) are handled here so
that domain code never has to ask which backend it is on.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    Select,
    String,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from kycd.core.coalesced_reads import CoalescedRead
from kycd.core.prepared_reads import PreparedRead
from kycd.settings import Settings, get_settings

# Session.info key of the settings of the app whose request opened the session
# (kycd.api.deps.get_db). Code an event subscriber runs has the session only,
# and some of it needs the settings (the list files live under data_dir).
SETTINGS_INFO = "kycd.settings"


def settings_of(db: Session) -> Settings:
    """The settings of the app that opened ``db``; outside a request (the CLI,
    the worker), those of the process, which is what they are built from."""
    settings = db.info.get(SETTINGS_INFO)
    return settings if isinstance(settings, Settings) else get_settings()


def new_id() -> str:
    return str(uuid.uuid4())


_ID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def has_id_shape(value: str) -> bool:
    """Whether ``value`` is shaped as :func:`new_id` makes ids: a key that is
    not cannot name a row, so a read by it can answer "not found" unasked."""
    return _ID_SHAPE.fullmatch(value) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite has no timezone-aware type and hands back naive values; storing naive
    UTC everywhere and re-attaching UTC on the way out keeps both backends equal.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class TenantScopedMixin:
    """Columns that partition a row by tenant and environment.

    Every query on such a model goes through :func:`kycd.tenancy.scoping.scoped`,
    so no endpoint filters by tenant by hand.
    """

    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    environment: Mapped[str] = mapped_column(String(16))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Writers from several threads and processes wait for each other rather
    # than failing at once with "database is locked".
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes cannot upgrade its lock
    # while another writer is active, and SQLite answers "database is locked" at
    # once instead of waiting. Units of work that may write therefore take the
    # write lock up front (BEGIN IMMEDIATE); read-only ones (GET requests) begin
    # deferred, and with WAL they are never blocked by a writer.
    if conn.get_execution_options().get("kycd_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# Seconds a PostgreSQL connection may take to open (unless the URL says).
CONNECT_TIMEOUT_S = 5


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "isolation_level": None, "timeout": 15},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A database that cannot be reached fails a connection in seconds, not at
    # the TCP timeout: an API worker opens its event loop's read connections
    # on the loop itself (kycd.core.prepared_reads). A URL may set its own.
    connect_args = {} if "connect_timeout=" in url else {"connect_timeout": CONNECT_TIMEOUT_S}
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(kycd_read_only=True), expire_on_commit=False
        )
        self._prepared: dict[Select[Any], PreparedRead] = {}
        self._coalesced: dict[Select[Any], CoalescedRead] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.resolved_database_url)

    def session(self, *, read_only: bool = False) -> Session:
        return self.read_sessionmaker() if read_only else self.sessionmaker()

    def prepared(self, statement: Select[Any]) -> PreparedRead:
        """The statement as a :class:`PreparedRead` of this database (made once)."""
        read = self._prepared.get(statement)
        if read is None:
            read = self._prepared.setdefault(statement, PreparedRead(self.engine, statement))
        return read

    def coalesced(self, statement: Select[Any], keys_param: str) -> CoalescedRead:
        """The statement as a :class:`CoalescedRead` of this database (made once)."""
        read = self._coalesced.get(statement)
        if read is None:
            read = self._coalesced.setdefault(
                statement, CoalescedRead(self.prepared(statement), keys_param)
            )
        return read

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        for read in self._prepared.values():
            read.close()
        self.engine.dispose()
