"""Webhook delivery: deliveries per second to a local receiver, and the latency
from an event's commit to its successful delivery, on SQLite and PostgreSQL.

Setup per backend: a fresh database, one endpoint subscribed to everything on
a receiver in its own process (an asyncio HTTP server that checks every
signature with the ``standardwebhooks`` library and answers 204), and one real
``kycd worker`` subprocess with its default settings (64 requests in flight,
0.1 s idle poll).

* Throughput: a backlog of events is committed first, then the worker is
  started; deliveries/s = deliveries / (last success - first attempt), from the
  worker's own delivery log. Every delivery is signed, sent, answered 2xx and
  recorded (two transactions per batch: claim, result).
* Latency: the worker runs idle; events are committed one per transaction at
  a steady rate, like API writes; latency = the delivery's recorded success
  time - the event's timestamp. It includes the outbox poll, the claim, the
  HTTP round trip and the write-back, so it is what an integrator waits.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from kycd.core.safe_http import AddressPolicy
from kycd.db import Database
from kycd.events.service import record_event
from kycd.migrate import upgrade
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.webhooks import service
from kycd.webhooks.models import WebhookAttempt, WebhookDelivery
from kycd.webhooks.schemas import EndpointCreate
from kycd.webhooks.signing import SecretBox

SERVER_SECRET = "bench-server-secret"
BACKLOG = int(os.environ.get("KYCD_BENCH_WEBHOOK_BACKLOG", "3000"))
LATENCY_EVENTS = int(os.environ.get("KYCD_BENCH_WEBHOOK_LATENCY_EVENTS", "400"))
PROCESSES = (1, 2)
LATENCY_RATE = float(os.environ.get("KYCD_BENCH_WEBHOOK_RATE", "100"))
POSTGRES_ADMIN_URL = os.environ.get(
    "KYCD_BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PAYLOAD = {
    "id": "32cbb9a2-dd3b-4e60-a5af-9b41460049dc",
    "user_id": "7b39529a-e68c-4688-8242-7549d10d6084",
    "type": "KYC",
    "check_confirmed_at": "2021-08-02T15:04:05Z",
    "document_type": "PASSPORT",
    "method": "VIDEO_ID",
    "nationality": "DE",
    "provider": "IDNOW",
    "status": "PASSED",
}


# --- the receiver --------------------------------------------------------------


def _receiver_main(
    port: int, secret_holder: multiprocessing.Queue, verified: object, rejected: object
) -> None:
    from standardwebhooks.webhooks import Webhook

    secret: str = secret_holder.get()
    webhook = Webhook(secret)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    webhook.verify(body, headers, json_parse=False)
                    status, counter = b"204 No Content", verified
                except Exception:
                    status, counter = b"400 Bad Request", rejected
                with counter.get_lock():  # type: ignore[attr-defined]
                    counter.value += 1  # type: ignore[attr-defined]
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- one backend ---------------------------------------------------------------


@dataclass
class Throughput:
    processes: int
    per_second: float
    cpu_ms: float


@dataclass
class Figures:
    backend: str
    throughput: list[Throughput]
    p50_ms: float
    p99_ms: float
    latency_events: int
    rejected: int
    duplicates: int


def _emit(database: Database, ctx: RequestContext, count: int, per_transaction: int) -> None:
    done = 0
    while done < count:
        with database.transaction() as db:
            for _ in range(min(per_transaction, count - done)):
                record_event(db, ctx, "USER_CHECK.PASSED", payload=PAYLOAD, actor_type="system")
                done += 1


def _succeeded(database: Database) -> int:
    with database.session(read_only=True) as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "succeeded")
            )
            or 0
        )


def _wait_for(database: Database, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _succeeded(database) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_succeeded(database)} of {count} delivered in time")
        time.sleep(0.05)


def _start_worker(url: str, data_dir: Path, processes: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env.update(
        KYCD_DATABASE_URL=url,
        KYCD_DATA_DIR=str(data_dir),
        KYCD_SECRET_KEY=SERVER_SECRET,
        KYCD_ALLOWED_PRIVATE_NETWORKS='["127.0.0.0/8"]',
        KYCD_LOG_LEVEL="WARNING",
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "kycd.cli", "worker", "--no-jobs", "--processes", str(processes)],
        env=env,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the --processes helpers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(c) for c in children)
    return total


def _drain_backlog(
    database: Database, ctx: RequestContext, url: str, data_dir: Path, processes: int
) -> tuple[Throughput, subprocess.Popen[bytes]]:
    before = _succeeded(database)
    with database.session(read_only=True) as db:
        seq_before = db.scalar(select(func.max(WebhookDelivery.event_seq))) or 0
    _emit(database, ctx, BACKLOG, per_transaction=500)
    worker = _start_worker(url, data_dir, processes)
    # CPU is counted from the first success on, leaving out the start-up.
    deadline = time.monotonic() + 120
    while _succeeded(database) == before:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker delivered nothing")
        time.sleep(0.01)
    cpu_start, counted_from = _cpu_seconds(worker.pid), _succeeded(database)
    _wait_for(database, before + BACKLOG, timeout=900)
    cpu = _cpu_seconds(worker.pid) - cpu_start
    with database.session(read_only=True) as db:
        first = db.scalar(
            select(func.min(WebhookAttempt.started_at))
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.event_seq > seq_before)
        )
        last = db.scalar(
            select(func.max(WebhookDelivery.completed_at)).where(
                WebhookDelivery.event_seq > seq_before
            )
        )
    assert first is not None and last is not None
    rate = BACKLOG / max((last - first).total_seconds(), 1e-6)
    counted = before + BACKLOG - counted_from
    return Throughput(processes, rate, 1000 * cpu / max(counted, 1)), worker


def _latency(database: Database, ctx: RequestContext) -> list[float]:
    with database.session(read_only=True) as db:
        seq_before = db.scalar(select(func.max(WebhookDelivery.event_seq))) or 0
    expected = _succeeded(database) + LATENCY_EVENTS
    interval = 1.0 / LATENCY_RATE
    start = time.monotonic()
    for i in range(LATENCY_EVENTS):
        pause = start + i * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        _emit(database, ctx, 1, per_transaction=1)
    _wait_for(database, expected, timeout=120)
    with database.session(read_only=True) as db:
        rows = db.execute(
            select(WebhookDelivery.event_created_at, WebhookDelivery.completed_at).where(
                WebhookDelivery.event_seq > seq_before
            )
        ).all()
    return sorted((done - created) / timedelta(milliseconds=1) for created, done in rows if done)


def measure(backend: str, url: str, data_dir: Path) -> Figures:
    upgrade(url)
    database = Database(url)
    port = _free_port()
    secret_queue: multiprocessing.Queue[str] = multiprocessing.Queue()
    verified = multiprocessing.Value("l", 0)
    rejected = multiprocessing.Value("l", 0)
    receiver = multiprocessing.Process(
        target=_receiver_main, args=(port, secret_queue, verified, rejected), daemon=True
    )
    receiver.start()
    try:
        with database.transaction() as db:
            tenant = Tenant(name=f"bench-{secrets.token_hex(4)}", settings={})
            db.add(tenant)
            db.flush()
            ctx = RequestContext(tenant.id, "sandbox", actor_type="operator")
            endpoint = service.create_endpoint(
                db,
                ctx,
                SecretBox(SERVER_SECRET.encode()),
                AddressPolicy(["127.0.0.0/8"]),
                EndpointCreate(url=f"http://127.0.0.1:{port}/hook", event_types=["USER_CHECK.*"]),
            )
        secret_queue.put(endpoint.secret)
        throughput = []
        latencies: list[float] = []
        for processes in PROCESSES:
            result, worker = _drain_backlog(database, ctx, url, data_dir, processes)
            throughput.append(result)
            try:
                if processes == 1:
                    latencies = _latency(database, ctx)
            finally:
                _stop(worker)
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
        deliveries = BACKLOG * len(PROCESSES) + LATENCY_EVENTS
        return Figures(
            backend,
            throughput,
            p50,
            p99,
            len(latencies),
            int(rejected.value),  # type: ignore[attr-defined]
            int(verified.value) - deliveries,  # type: ignore[attr-defined]
        )
    finally:
        receiver.kill()
        receiver.join()
        database.dispose()


def _postgres_database() -> tuple[str, object] | None:
    name = f"kycd_bench_{secrets.token_hex(4)}"
    try:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


def run() -> str:
    results: list[Figures] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        results.append(measure("SQLite", f"sqlite:///{data_dir / 'bench.sqlite3'}", data_dir))
        postgres = _postgres_database()
        if postgres is None:
            skipped.append("PostgreSQL (no server at KYCD_BENCH_POSTGRES_ADMIN_URL)")
        else:
            url, drop = postgres
            try:
                results.append(measure("PostgreSQL", url, data_dir))
            finally:
                drop()  # type: ignore[operator]
    load = os.getloadavg()[0]
    lines = [
        "## Webhooks",
        "",
        "`kycd worker` (64 requests in flight per process, 0.1 s idle poll) delivering signed",
        "`USER_CHECK.PASSED` webhooks to a local receiver (its own process) that verifies every",
        f"signature with `standardwebhooks`. Throughput: a backlog of {BACKLOG} events drained by",
        "1 and by 2 worker processes (`--processes`); worker CPU per delivery counted from the",
        f"first success. Latency: {LATENCY_EVENTS} events committed one per transaction at",
        f"{LATENCY_RATE:g}/s to a running 1-process worker, from the event's timestamp to the",
        "recorded 2xx. Targets: ≥ 500 deliveries/s, p99 < 1 s.",
        f"Load average when the run ended: {load:.1f} (other work on the machine slows every figure).",
        "",
        "| backend | processes | deliveries/s | worker CPU per delivery |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        for t in r.throughput:
            lines.append(
                f"| {r.backend} | {t.processes} | {t.per_second:,.0f} | {t.cpu_ms:.2f} ms |"
            )
    for name in skipped:
        lines.append(f"| {name} | | skipped | |")
    lines += [
        "",
        "| backend | event→delivery p50 | p99 | rejected by receiver | sent twice |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.p50_ms:,.0f} ms | {r.p99_ms:,.0f} ms | {r.rejected} "
            f"| {r.duplicates} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
