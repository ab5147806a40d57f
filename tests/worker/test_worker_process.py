"""The worker as it runs in production: in-process for the loop itself, and as
real ``kycd worker`` subprocesses for SIGTERM, SIGKILL and two workers at once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kycd.db import Database
from kycd.jobs import PeriodicJob
from kycd.settings import Settings
from kycd.webhooks.delivery import DeliveryConfig
from kycd.webhooks.models import WebhookAttempt, WebhookDelivery
from kycd.worker.runner import Worker, WorkerConfig
from webhook_harness import TEST_SECRET, Receiver, emit, register

CHECK = {"id": "chk-1", "user_id": "u-1", "type": "KYC", "status": "PASSED"}


def _statuses(database: Database) -> Counter[str]:
    with database.session() as db:
        return Counter(db.scalars(select(WebhookDelivery.status)).all())


def _wait_until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_worker_delivers_and_runs_periodic_jobs(
    api: Any, creds: Any, database: Database, settings: Settings, receiver: Receiver
) -> None:
    register(api, receiver)
    calls: list[datetime] = []

    def job(_db: Database, _settings: Settings, now: datetime) -> int:
        calls.append(now)
        return 1 if len(calls) < 3 else 0  # found work twice: run again at once

    worker = Worker(
        database,
        settings,
        WorkerConfig(poll_interval=0.02),
        jobs=[PeriodicJob("count", job, timedelta(hours=1))],
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(worker.run(),))
    thread.start()
    try:
        for _ in range(5):
            emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
        posts = receiver.wait_for(5)
        assert all(p.verified_by == [0] for p in posts)
        _wait_until(lambda: _statuses(database) == Counter({"succeeded": 5}))
        _wait_until(lambda: len(calls) >= 3)
        time.sleep(0.2)
        assert len(calls) == 3, "a job with work runs again; an idle one waits its interval"
    finally:
        loop.call_soon_threadsafe(worker.stop.set)
        thread.join(10)
        loop.close()
    assert not thread.is_alive()


@pytest.fixture
def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env.update(
        KYCD_DATA_DIR=str(settings.data_dir),
        KYCD_DATABASE_URL=settings.resolved_database_url,
        KYCD_ALLOWED_PRIVATE_NETWORKS='["127.0.0.0/8"]',
        KYCD_SECRET_KEY=TEST_SECRET.decode(),
        KYCD_LOG_LEVEL="WARNING",
        PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"),
    )
    return env


class Workers:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "kycd.cli", "worker", "--poll-interval", "0.02", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=None,
        )
        self.processes.append(process)
        return process


@pytest.fixture
def workers(worker_env: dict[str, str]) -> Iterator[Workers]:
    started = Workers(worker_env)
    yield started
    for process in started.processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_sigkill_mid_delivery_then_restart_delivers_everything_with_the_same_ids(
    api: Any, creds: Any, database: Database, receiver: Receiver, workers: Workers
) -> None:
    register(api, receiver)
    receiver.default = (200, 0.4)  # slow receiver: the kill lands mid-request
    events = [emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK) for _ in range(12)]
    lease = ("--timeout", "1", "--lease-margin", "0.5", "--concurrency", "4")
    first = workers.start(*lease)
    receiver.wait_for(2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert _statuses(database)["pending"] > 0, "the kill left work undone"
    receiver.default = (200, 0.0)
    second = workers.start(*lease)
    _wait_until(lambda: _statuses(database) == Counter({"succeeded": len(events)}))
    second.send_signal(signal.SIGTERM)
    assert second.wait(10) == 0

    posts = receiver.posts()
    assert all(p.verified_by == [0] for p in posts)
    ids_by_event: dict[str, set[str]] = {}
    for post in posts:
        ids_by_event.setdefault(post.json["id"], set()).add(post.webhook_id)
    assert set(ids_by_event) == set(events), "every event delivered"
    assert all(len(ids) == 1 for ids in ids_by_event.values()), "same webhook-id on resend"
    with database.session() as db:
        outcomes = Counter(db.scalars(select(WebhookAttempt.outcome)).all())
    assert outcomes["abandoned"] >= 1 and outcomes["in_progress"] == 0
    assert outcomes["succeeded"] == len(events)


def test_sigterm_finishes_requests_in_flight_and_exits_cleanly(
    api: Any, creds: Any, database: Database, receiver: Receiver, workers: Workers
) -> None:
    register(api, receiver)
    receiver.default = (200, 0.5)
    for _ in range(3):
        emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    process = workers.start("--concurrency", "3")
    receiver.wait_for(3)
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    assert _statuses(database) == Counter({"succeeded": 3})
    with database.session() as db:
        outcomes = Counter(db.scalars(select(WebhookAttempt.outcome)).all())
    assert outcomes == Counter({"succeeded": 3})


def test_two_workers_on_postgres_never_deliver_one_attempt_twice(
    api: Any,
    creds: Any,
    database: Database,
    backend: str,
    receiver: Receiver,
    workers: Workers,
) -> None:
    if backend != "postgresql":
        pytest.skip("several workers share the work on PostgreSQL (SKIP LOCKED)")
    register(api, receiver)
    receiver.default = (200, 0.01)
    for _ in range(60):
        emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
    pair = [workers.start("--concurrency", "8", "--no-jobs") for _ in range(2)]
    _wait_until(lambda: _statuses(database) == Counter({"succeeded": 60}), timeout=60)
    for process in pair:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    ids = Counter(p.webhook_id for p in receiver.posts())
    assert len(ids) == 60 and set(ids.values()) == {1}, "each delivery sent exactly once"
    with database.session() as db:
        attempts = db.scalar(select(func.count()).select_from(WebhookAttempt))
    assert attempts == 60


def test_worker_config_defaults_match_the_documented_promise() -> None:
    config = WorkerConfig()
    assert config.delivery == DeliveryConfig()
    assert config.delivery.timeout == 15.0
    assert config.delivery.lease > timedelta(seconds=15)


def _is_up(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:  # still starting
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_with_worker_delivers_and_ctrl_c_stops_both(
    api: Any, creds: Any, database: Database, receiver: Receiver, worker_env: dict[str, str]
) -> None:
    register(api, receiver)
    port = _free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "kycd.cli", "serve", "--with-worker", "--port", str(port)],
        env=worker_env,
        start_new_session=True,
    )
    try:
        emit(database, creds.tenant_id, "USER_CHECK.PASSED", CHECK)
        receiver.wait_for(1, timeout=30)
        _wait_until(lambda: _is_up(f"http://127.0.0.1:{port}/healthz"))
        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        assert serve.wait(20) == 0
        _wait_until(lambda: not _group_alive(serve.pid), timeout=20)
    finally:
        if _group_alive(serve.pid):
            os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
