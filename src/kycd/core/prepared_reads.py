"""Single-statement reads for the hottest GETs, without a session, a pool
checkout or a thread hop.

A cached compliance status read is one indexed SELECT. Measured on the 2-core
benchmark machine, the SELECT itself costs under 10 µs on SQLite, while the
usual way around it costs far more: checking a connection out of the pool and
beginning and rolling back its transaction about 250 µs, SQLAlchemy's
execution of a cached statement about 80 µs, a hop to the thread pool about
450 µs. So a :class:`PreparedRead` compiles its statement once and runs it on
a DBAPI connection that the calling thread keeps for itself, in autocommit
(one statement is its own consistent snapshot on both databases), converting
parameters and results with the column types' own processors.

It is meant to be called on the event loop: the statement must be a lookup by
key, which SQLite in WAL mode answers without waiting for writers, and which
PostgreSQL answers in one round trip, during which the worker's loop waits.
That trade was measured: with psycopg's asynchronous connections (a pool per
loop) the loop stays free, but the status read served about 1,700 req/s
against about 2,200 this way on the benchmark machine, where a PostgreSQL round
trip costs ~280 µs of client and ~200 µs of server CPU. With the database on
another host the wait grows with the network's round trip; both connections
carry a short timeout, so a read that would have to wait fails fast instead of
stalling the loop, and callers treat a failure as "not found here" and take
the ordinary path (see :meth:`PreparedRead.all`). The reads integrators poll
go one step further: the reads that arrive together share one statement
(kycd.core.coalesced_reads).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.pool import PoolProxiedConnection

log = logging.getLogger("kycd.db")

# How long a prepared read may wait for a lock (SQLite) or run (PostgreSQL).
TIMEOUT_MS = 200
# Idle connections kept per statement (an API worker's loop uses one).
MAX_IDLE = 4

Processor = Callable[[Any], Any] | None


class PreparedRead:
    """One compiled SELECT, run on connections of its own.

    The connections are kept in an idle list rather than per thread: the event
    loop of an API worker needs one, and a thread that ends (a test client's)
    must not take one with it."""

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._positions: Sequence[str] | None = compiled.positiontup if dialect.positional else None
        self._bind: dict[str, Processor] = {
            name: param.type.dialect_impl(dialect).bind_processor(dialect)
            for param, name in compiled.bind_names.items()
        }
        self._result: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        self._postgres = dialect.name == "postgresql"
        # The driver's own errors: what a caller may treat as "take the ordinary path".
        self.errors: type[Exception] = dialect.loaded_dbapi.Error
        self._data_errors: type[Exception] = dialect.loaded_dbapi.DataError
        # deque.append and .pop are atomic: no lock on the hot path.
        self._idle: deque[PoolProxiedConnection] = deque()

    def all(self, **params: Any) -> list[tuple[Any, ...]]:
        """Every row, with the column types' values. Raises the driver's error;
        unless the error was the data's (a value the driver refuses), the
        connection is dropped first and the next call opens a new one."""
        values = {name: self._bound(name, value) for name, value in params.items()}
        args: Any = [values[name] for name in self._positions] if self._positions else values
        connection = self._checkout()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, args)
                rows = list(cursor.fetchall())
            finally:
                cursor.close()
        except self._data_errors:
            self._checkin(connection)  # the connection itself is sound
            raise
        except Exception:
            _invalidate(connection)
            raise
        self._checkin(connection)
        return [
            tuple(
                process(value) if process else value
                for process, value in zip(self._result, row, strict=True)
            )
            for row in rows
        ]

    def close(self) -> None:
        """Close every idle connection (the engine is being disposed)."""
        while self._idle:
            _invalidate(self._idle.pop())

    def _bound(self, name: str, value: Any) -> Any:
        process = self._bind.get(name)
        return process(value) if process else value

    def _checkout(self) -> PoolProxiedConnection:
        try:
            return self._idle.pop()
        except IndexError:
            return self._open()

    def _checkin(self, connection: PoolProxiedConnection) -> None:
        if len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            _invalidate(connection)

    def _open(self) -> PoolProxiedConnection:
        # Checked out of the engine's pool for good: the pool's connect hooks
        # (SQLite's pragmas) have run on it.
        connection = self._engine.raw_connection()
        driver: Any = connection.driver_connection
        if self._postgres:
            driver.autocommit = True
            driver.execute(f"SET statement_timeout = {TIMEOUT_MS}")
        else:
            # Connected with isolation_level=None: every statement autocommits.
            driver.execute(f"PRAGMA busy_timeout = {TIMEOUT_MS}")
        return connection


def _invalidate(connection: PoolProxiedConnection) -> None:
    try:
        connection.invalidate()
    except Exception:  # the connection is gone either way
        log.debug("prepared read: invalidating a connection", exc_info=True)
