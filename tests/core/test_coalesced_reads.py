"""``CoalescedRead``: the reads of one turn of the event loop share a statement,
and each still gets exactly its own row, on both backends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, select

from kycd.core import coalesced_reads
from kycd.core.coalesced_reads import CoalescedRead, one_of
from kycd.db import Database
from kycd.tenancy.models import Tenant

# Keyed by id; the name's pattern is the "other parameter" that groups reads.
_BY_ID = select(Tenant.id, Tenant.settings).where(
    one_of(Tenant.id, "ids"), Tenant.name.like(bindparam("name"))
)


def _tenant(database: Database, name: str, settings: dict[str, object] | None = None) -> str:
    with database.transaction() as db:
        tenant = Tenant(name=name, settings=settings or {}, created_at=datetime.now(UTC))
        db.add(tenant)
        db.flush()
        return tenant.id


def _counting_statements(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> tuple[CoalescedRead, list[list[str]]]:
    """The coalesced read, and the keys of each statement it runs."""
    prepared = database.prepared(_BY_ID)
    run = prepared.all
    statements: list[list[str]] = []

    def recording(**params: Any) -> list[tuple[Any, ...]]:
        statements.append(list(params["ids"]))
        return run(**params)

    monkeypatch.setattr(prepared, "all", recording)
    return database.coalesced(_BY_ID, "ids"), statements


def _run(coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    # Bounded: a read left waiting must fail the test, not hang it.
    return asyncio.run(asyncio.wait_for(coroutine(), timeout=10))


def test_reads_of_one_turn_share_one_statement_and_get_their_own_rows(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = _tenant(database, "acme", {"n": 1})
    globex = _tenant(database, "globex", {"n": 2})
    read, statements = _counting_statements(database, monkeypatch)

    async def together() -> Any:
        return await asyncio.gather(
            read.first(acme, name="acme"),
            read.first(globex, name="globex"),  # another group: its own statement
            read.first(acme, name="acme"),  # the same key twice
            read.first("no-such-tenant", name="acme"),
            read.first(globex, name="acme"),  # globex's key, acme's parameters
        )

    assert _run(together) == [({"n": 1},), ({"n": 2},), ({"n": 1},), None, None]
    assert sorted(map(sorted, statements)) == sorted(
        [sorted([acme, "no-such-tenant", globex]), [globex]]
    )


def test_a_read_made_a_turn_later_joins_the_statement(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = _tenant(database, "acme-1", {"n": 1})
    other = _tenant(database, "acme-2", {"n": 2})
    read, statements = _counting_statements(database, monkeypatch)

    async def a_turn_later() -> Any:
        await asyncio.sleep(0)  # one turn of the loop, as a middleware's await
        return await read.first(other, name="acme%")

    async def together() -> Any:
        return await asyncio.gather(read.first(acme, name="acme%"), a_turn_later())

    assert _run(together) == [({"n": 1},), ({"n": 2},)]
    assert statements == [[acme, other]]


def test_a_read_sees_what_was_committed_before_it_was_made(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = _tenant(database, "acme", {"n": 1})
    read, statements = _counting_statements(database, monkeypatch)
    assert _run(lambda: read.first(acme, name="acme")) == ({"n": 1},)
    with database.transaction() as db:
        tenant = db.get(Tenant, acme)
        assert tenant is not None
        tenant.settings = {"n": 2}
    assert _run(lambda: read.first(acme, name="acme")) == ({"n": 2},)
    assert statements == [[acme], [acme]]  # one statement per read: nothing cached


def test_more_keys_than_one_statement_takes_are_read_in_several(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coalesced_reads, "MAX_KEYS", 2)
    ids = [_tenant(database, f"acme-{i}", {"i": i}) for i in range(5)]
    read, statements = _counting_statements(database, monkeypatch)

    async def together() -> Any:
        return await asyncio.gather(*(read.first(key, name="acme%") for key in ids))

    assert _run(together) == [({"i": i},) for i in range(5)]
    assert [len(keys) for keys in statements] == [2, 2, 1]


def test_keys_are_bound_as_data_not_sql(database: Database) -> None:
    acme = _tenant(database, "acme")
    read = database.coalesced(_BY_ID, "ids")
    awkward = ["'); DROP TABLE tenants; --", 'quo"te', "ünïcode", "]", ""]

    async def together() -> Any:
        return await asyncio.gather(*(read.first(key, name="acme") for key in [*awkward, acme]))

    assert _run(together) == [None] * len(awkward) + [({},)]


def test_a_failed_statement_fails_every_read_waiting_for_it(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = _tenant(database, "acme")
    read = database.coalesced(_BY_ID, "ids")
    prepared = database.prepared(_BY_ID)
    assert _run(lambda: read.first(acme, name="acme")) == ({},)
    prepared._idle[-1].driver_connection.close()  # type: ignore[union-attr]  # the server went away

    async def together() -> Any:
        return await asyncio.gather(
            read.first(acme, name="acme"), read.first("other", name="acme"), return_exceptions=True
        )

    failures = _run(together)
    assert len(failures) == 2
    assert all(isinstance(failure, read.errors) for failure in failures)
    assert _run(lambda: read.first(acme, name="acme")) == ({},)  # reconnected


def test_a_cancelled_read_leaves_the_others_answered(database: Database) -> None:
    acme = _tenant(database, "acme", {"n": 1})
    read = database.coalesced(_BY_ID, "ids")

    async def one_cancelled() -> Any:
        doomed = asyncio.ensure_future(read.first(acme, name="acme"))
        kept = asyncio.ensure_future(read.first(acme, name="acme"))
        await asyncio.sleep(0)  # both registered
        doomed.cancel()
        return await kept, await asyncio.gather(doomed, return_exceptions=True)

    kept, (doomed,) = _run(one_cancelled)
    assert kept == ({"n": 1},)
    assert isinstance(doomed, asyncio.CancelledError)


def test_loops_in_other_threads_read_on_their_own(database: Database) -> None:
    # An API worker has one loop; tests and the thread pool's portals run others.
    ids = [_tenant(database, f"acme-{i}", {"i": i}) for i in range(4)]
    read = database.coalesced(_BY_ID, "ids")
    answers: dict[int, list[Any]] = {}

    def in_own_loop(thread_no: int) -> None:
        async def reads() -> list[Any]:
            rounds = []
            for _ in range(20):
                rounds.append(await asyncio.gather(*(read.first(key, name="acme%") for key in ids)))
            return rounds

        answers[thread_no] = _run(reads)

    threads = [threading.Thread(target=in_own_loop, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [({"i": i},) for i in range(4)]
    assert answers == {n: [expected] * 20 for n in range(3)}


def test_a_statement_that_fails_unexpectedly_still_answers_every_read(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = _tenant(database, "acme-1")
    prepared = database.prepared(_BY_ID)

    def broken(**_params: Any) -> list[tuple[Any, ...]]:
        raise RuntimeError("a bug, not the database")

    monkeypatch.setattr(prepared, "all", broken)
    read = database.coalesced(_BY_ID, "ids")

    async def together() -> Any:
        return await asyncio.gather(
            read.first(acme, name="acme%"),
            read.first(acme, name="other%"),  # another group, never reached
            return_exceptions=True,
        )

    loop_errors: list[dict[str, Any]] = []

    async def recording_loop_errors() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, c: loop_errors.append(c))
        return await together()

    failures = _run(recording_loop_errors)
    assert [type(failure) for failure in failures] == [RuntimeError, RuntimeError]
    assert len(loop_errors) == 1  # and the loop was told
