from __future__ import annotations

import httpx

from kycd.worker.runner import ClientPool


def test_clients_are_created_lazily_and_never_queue_requests() -> None:
    made: list[int] = []

    def factory(size: int) -> httpx.AsyncClient:
        made.append(size)
        return httpx.AsyncClient()

    pool = ClientPool(factory, total=10)
    assert made == [], "a quiet worker builds no client"
    for _ in range(10):
        pool.load[pool._pick()] += 1
    assert len(pool.clients) == 3 and all(size == ClientPool.PER_CLIENT for size in made)
    assert max(pool.load) <= ClientPool.PER_CLIENT, "a request never waits inside a pool"
    pool.load = [0] * len(pool.load)
    pool._pick()
    assert len(pool.clients) == 3, "idle clients are reused"
