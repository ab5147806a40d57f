"""Lookups by key that arrive together, answered by one statement.

Integrators poll the compliance status and the customer, so an API worker has
many such reads in hand at once: the event loop parses every request that
arrived during its last turn before any of them reads. A :class:`CoalescedRead` lets
those reads share one statement (``WHERE customer_id IN (…)``): each read
registers its key and waits; the first one schedules a flush on the loop a
couple of turns later (:data:`TURNS_BEFORE_FLUSH`), by which time the reads of
the requests that arrived with it have registered too; the flush reads all
their keys with one :class:`~kycd.core.prepared_reads.PreparedRead` and hands each
waiting read its rows. Reads with other parameters (another tenant or
environment) never share a statement.

Why: on PostgreSQL one round trip costs a worker ~50 µs of CPU and the
database ~35 µs more, which is more than the rest of a cached status read
(measured on the 2-core benchmark machine; BENCHMARKS.md). Shared by a batch
of reads, it costs each of them a fraction of that. SQLite's read costs a few
µs either way; the same path serves both databases.

Nothing is cached: every read's statement starts after its request arrived,
so it sees every write committed before that, as a read of its own would.
A read waits at most for the statement of its own turn; reads that register
while a flush runs (another thread's loop, say) wait for the next one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, TypeDecorator, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Boolean, TypeEngine

from kycd.core.prepared_reads import PreparedRead

log = logging.getLogger("kycd.db")

# Keys per statement: a flush with more reads runs several statements.
MAX_KEYS = 500
# Turns of the loop between the first read of a batch and its flush. Requests
# that arrive together are parsed in one turn but reach their read a turn or
# two later (the middleware's and FastAPI's awaits). Measured with wrk at 32
# connections on PostgreSQL: flushing one turn later made batches of ~4.5
# reads and served 53% of the bare endpoint's req/s; two turns, ~8 reads and
# 65%; three, 66%. When the loop is idle a turn takes microseconds.
TURNS_BEFORE_FLUSH = 2

Row = tuple[Any, ...]
Params = tuple[tuple[str, Any], ...]
Waiter = asyncio.Future[list[Row]]


class _KeyList(TypeDecorator[list[str]]):
    """A list of string keys as one parameter: an array on PostgreSQL, a JSON
    array on SQLite (which has no array type), so that the statement's text
    is the same whatever the number of keys (prepared once on PostgreSQL)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(String()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps(value)


class one_of(ColumnElement[bool]):
    """``column IN (the keys of the bound list named name)``, with one
    statement text for any number of keys."""

    type = Boolean()
    inherit_cache = False  # compiled once by PreparedRead, never cached

    def __init__(self, column: ColumnElement[str] | InstrumentedAttribute[str], name: str) -> None:
        self.column: ColumnElement[str] = (
            column.expression if isinstance(column, InstrumentedAttribute) else column
        )
        self.keys = bindparam(name, type_=_KeyList())


@compiles(one_of, "postgresql")
def _one_of_postgresql(element: one_of, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"{compiler.process(element.column, **kw)} = ANY ({compiler.process(element.keys, **kw)})"
    )


@compiles(one_of)
def _one_of_sqlite(element: one_of, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"{compiler.process(element.column, **kw)} IN "
        f"(SELECT value FROM json_each({compiler.process(element.keys, **kw)}))"
    )


class CoalescedRead:
    """A :class:`PreparedRead` whose first selected column is the key and whose
    keys parameter is a :class:`one_of`, read by key from the event loop. A
    key may have several rows (a customer joined with its addresses); they
    come back in the statement's order."""

    def __init__(self, read: PreparedRead, keys_param: str) -> None:
        self._read = read
        self._keys_param = keys_param
        self.errors = read.errors
        # The reads waiting for each loop's next flush, grouped by their other
        # parameters, then by key. Only the loop's own thread touches its
        # entry, and each dict operation is atomic under the GIL, so loops in
        # several threads need no lock. Weak: a loop closed with a flush still
        # pending takes its entry with it.
        self._waiting: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Params, dict[str, list[Waiter]]]
        ] = weakref.WeakKeyDictionary()

    async def first(self, key: str, **params: Any) -> Row | None:
        """The first row of ``key`` without its key column, or None; raises
        what the statement raised (the driver's error, :attr:`errors`)."""
        rows = await self.rows(key, **params)
        return rows[0] if rows else None

    async def rows(self, key: str, **params: Any) -> list[Row]:
        """Every row of ``key`` without its key column, as :meth:`first`."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting.get(loop)
        if waiting is None:
            # Scheduled first: the entry exists only while a flush is due.
            _after_turns(loop, TURNS_BEFORE_FLUSH, self._flush, loop)
            waiting = self._waiting[loop] = {}
        future: Waiter = loop.create_future()
        group = waiting.setdefault(tuple(sorted(params.items())), {})
        group.setdefault(key, []).append(future)
        return await future

    async def rows_if_read(self, key: str, **params: Any) -> list[Row] | None:
        """:meth:`rows`, or None when the statement failed with the driver's
        error (logged once per statement): the caller then reads the ordinary
        way, with a session of its own, and answers (or fails) as that does."""
        try:
            return await self.rows(key, **params)
        except self.errors:
            return None

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        groups = self._waiting.pop(loop, {})
        try:
            for params, by_key in groups.items():
                for keys in _chunks(list(by_key), MAX_KEYS):
                    self._answer(dict(params), keys, by_key)
        except BaseException as error:
            # Nothing but the driver's errors is expected here; whatever it
            # is, no read may be left waiting for an answer that never comes.
            for by_key in groups.values():
                for futures in by_key.values():
                    _settle(futures, error=error)
            raise

    def _answer(
        self, params: dict[str, Any], keys: list[str], by_key: dict[str, list[Waiter]]
    ) -> None:
        try:
            rows = self._read.all(**params, **{self._keys_param: keys})
        except self.errors as error:  # every waiting read fails as its own would
            log.warning("a read on the event loop failed (%d keys)", len(keys), exc_info=True)
            for key in keys:
                _settle(by_key[key], error=error)
            return
        found: dict[str, list[Row]] = {}
        for row in rows:
            found.setdefault(row[0], []).append(row[1:])
        for key in keys:
            _settle(by_key[key], result=found.get(key, []))


def _after_turns(
    loop: asyncio.AbstractEventLoop, turns: int, callback: Callable[..., None], *args: Any
) -> None:
    if turns <= 1:
        loop.call_soon(callback, *args)
    else:
        loop.call_soon(_after_turns, loop, turns - 1, callback, *args)


def _settle(
    futures: Iterable[Waiter],
    *,
    result: list[Row] | None = None,
    error: BaseException | None = None,
) -> None:
    for future in futures:
        if future.done():  # its request was cancelled (the client went away)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or [])


def _chunks(keys: list[str], size: int) -> Sequence[list[str]]:
    return [keys[start : start + size] for start in range(0, len(keys), size)]
