"""The worker process (``kycd worker``): webhook delivery and every periodic job.

One asyncio loop. Database work runs in threads (the ORM is synchronous);
HTTP requests run concurrently on the loop, up to ``concurrency`` at a time.
The loop never waits for a slow receiver before claiming more work: finished
attempts are written back in batches while others are still in flight.

SIGTERM (or SIGINT) stops claiming, lets the requests in flight finish (each
is bounded by the timeout), records them and exits 0. A SIGKILL loses nothing
either: the claims it leaves behind expire and are sent again (see
kycd.webhooks.delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ParamSpec, TypeVar

import httpx
import uvloop

from kycd.core.safe_http import AddressPolicy, guarded_async_client
from kycd.core.server_secret import load_server_secret
from kycd.db import Database, utcnow
from kycd.jobs import PERIODIC_JOBS, PeriodicJob
from kycd.settings import Settings
from kycd.webhooks.delivery import (
    AttemptResult,
    Claimed,
    DeliveryConfig,
    record_results,
    send,
    tick,
)
from kycd.webhooks.outbox import BATCH_SIZE
from kycd.webhooks.signing import SecretBox

log = logging.getLogger("kycd.worker")


def _cache_missing_sniffio() -> None:
    """httpcore runs ``import sniffio`` on every request and falls back to
    asyncio when it is missing. A failed import is not cached, so each request
    searched sys.path on disk: about a fifth of a delivery's CPU. Recording the
    absence once keeps the same behaviour without the search."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_cache_missing_sniffio()

Clock = Callable[[], datetime]
P = ParamSpec("P")
R = TypeVar("R")


class ClientPool:
    """Several small HTTP connection pools instead of one large one.

    httpcore re-scans every connection of a pool each time a request starts or
    ends, which costs quadratic time in the pool size: one pool of 64
    connections spends most of the worker's CPU bookkeeping. Pools of
    :data:`PER_CLIENT` connections, each request going to the least busy one,
    keep the scan short; their sizes add up to the worker's concurrency, so a
    request never queues inside a pool (its timeout covers only the request).
    """

    PER_CLIENT = 4

    def __init__(self, factory: Callable[[int], httpx.AsyncClient], total: int) -> None:
        self.factory = factory
        self.limit = max(1, -(-total // self.PER_CLIENT))
        # Created when needed: each client builds TLS contexts, tens of
        # milliseconds of CPU, which a quiet worker need not spend.
        self.clients: list[httpx.AsyncClient] = []
        self.load: list[int] = []

    def _pick(self) -> int:
        if self.clients:
            index = min(range(len(self.load)), key=self.load.__getitem__)
            if self.load[index] < self.PER_CLIENT or len(self.clients) >= self.limit:
                return index
        self.clients.append(self.factory(self.PER_CLIENT))
        self.load.append(0)
        return len(self.clients) - 1

    async def send(self, claimed: Claimed, timeout: float) -> AttemptResult:
        index = self._pick()
        self.load[index] += 1
        try:
            return await send(self.clients[index], claimed, timeout)
        finally:
            self.load[index] -= 1

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self.clients:
            await client.aclose()


@dataclass(frozen=True)
class WorkerConfig:
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    # Idle pause between two looks at the outbox: bounds event-to-delivery latency.
    poll_interval: float = 0.1
    concurrency: int = 64
    run_periodic_jobs: bool = True


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        config: WorkerConfig | None = None,
        *,
        clock: Clock = utcnow,
        jobs: list[PeriodicJob] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.config = config or WorkerConfig()
        self.clock = clock
        self.jobs = PERIODIC_JOBS if jobs is None else jobs
        self.rng = rng or random.Random()
        self.box = SecretBox(load_server_secret(settings))
        self.policy = AddressPolicy(settings.allowed_private_networks)
        self.stop = asyncio.Event()
        self.delivered = 0

    @property
    def _fan_out_every(self) -> float:
        return min(self.config.poll_interval, 0.05)

    def clients(self) -> ClientPool:
        return ClientPool(
            lambda size: guarded_async_client(
                self.policy, timeout=self.config.delivery.timeout, max_connections=size
            ),
            self.config.concurrency,
        )

    async def run(self) -> None:
        jobs = (
            asyncio.create_task(self._run_jobs())
            if self.config.run_periodic_jobs and self.jobs
            else None
        )
        try:
            async with self.clients() as clients:
                await self._deliver_forever(clients)
        finally:
            self.stop.set()
            if jobs is not None:
                await jobs

    async def _deliver_forever(self, clients: ClientPool) -> None:
        in_flight: set[asyncio.Task[AttemptResult]] = set()
        unrecorded: list[AttemptResult] = []
        timeout = self.config.delivery.timeout
        read, last_fan_out = 0, 0.0
        while not self.stop.is_set():
            finished = [t for t in in_flight if t.done()]
            in_flight.difference_update(finished)
            unrecorded.extend(t.result() for t in finished)
            # The outbox is read at most every few tens of milliseconds while
            # busy (at once again after a full batch).
            fan_out_due = (
                read >= BATCH_SIZE or time.monotonic() - last_fan_out >= self._fan_out_every
            )
            capacity = self.config.concurrency - len(in_flight)
            # Claims go in batches: a claim per freed slot would cost more
            # than the requests themselves.
            if capacity < max(1, self.config.concurrency // 4) and in_flight:
                capacity = 0
            try:
                claimed, read = await asyncio.to_thread(
                    tick,
                    self.database,
                    self.box,
                    tuple(unrecorded),
                    self.clock(),
                    self.rng,
                    capacity=capacity,
                    config=self.config.delivery,
                    fan_out_due=fan_out_due,
                )
            except Exception:
                # Results stay queued and are written with the next turn.
                log.exception("worker turn failed; retrying")
                claimed, read = [], 0
                await asyncio.sleep(min(1.0, self.config.poll_interval * 10))
            else:
                self.delivered += sum(1 for r in unrecorded if r.error is None)
                unrecorded.clear()
                if fan_out_due:
                    last_fan_out = time.monotonic()
            for item in claimed:
                in_flight.add(asyncio.create_task(clients.send(item, timeout)))
            busy = bool(claimed or finished) or read >= BATCH_SIZE
            await self._wait(in_flight, 0.005 if busy else self.config.poll_interval)
        # Graceful stop: what is in flight finishes (bounded by the timeout) and
        # is recorded, so a restart does not send it again.
        if in_flight:
            done, _ = await asyncio.wait(in_flight)
            unrecorded.extend(t.result() for t in done)
        await self._record(unrecorded)

    async def _wait(self, in_flight: set[asyncio.Task[AttemptResult]], timeout: float) -> None:
        stopper = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait(
                {*in_flight, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopper.cancel()

    async def _record(self, results: list[AttemptResult]) -> None:
        """The last write-back at shutdown, tried a few times. Should it still
        fail, the leases run out and the deliveries are sent again (at least
        once)."""
        for _ in range(5):
            if not results:
                return
            try:
                await asyncio.to_thread(
                    record_results, self.database, results, self.clock(), self.rng
                )
                self.delivered += sum(1 for r in results if r.error is None)
                return
            except Exception:
                log.exception("recording %d webhook attempts failed; retrying", len(results))
                await asyncio.sleep(1.0)

    async def _safely(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception:
            log.exception("%s failed", getattr(fn, "__name__", fn))
            await asyncio.sleep(min(1.0, self.config.poll_interval * 10))
            return None

    async def _run_jobs(self) -> None:
        """Each periodic job in turn; a job that found work runs again at once,
        one that found none waits its interval."""
        due = {job.name: 0.0 for job in self.jobs}
        while not self.stop.is_set():
            for job in self.jobs:
                if self.stop.is_set() or due[job.name] > time.monotonic():
                    continue
                handled = await self._safely(job.run, self.database, self.settings, self.clock())
                pause = 0.0 if handled else job.interval.total_seconds()
                due[job.name] = time.monotonic() + pause
            next_due = min(due.values(), default=time.monotonic() + 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.stop.wait(), timeout=max(0.01, min(1.0, next_due - time.monotonic()))
                )


def run_worker(settings: Settings, config: WorkerConfig) -> None:
    """Run until SIGTERM or SIGINT; the entry point of ``kycd worker``."""
    # Import every model before any thread runs a query: jobs import their
    # domains lazily, and SQLAlchemy configuring the mappers while another
    # thread is half-way through importing a models module fails for good.
    import kycd.models  # noqa: F401

    database = Database.from_settings(settings)

    async def main() -> None:
        worker = Worker(database, settings, config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop.set)
        log.info("worker started")
        await worker.run()
        log.info("worker stopped after %d deliveries", worker.delivered)

    try:
        # uvloop, as `kycd serve` uses: most of a delivery's CPU is event-loop
        # and HTTP-client work.
        uvloop.run(main())
    finally:
        database.dispose()
