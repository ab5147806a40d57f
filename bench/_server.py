"""Start a real ``kycd serve`` (and its database) for a benchmark."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = os.environ.get(
    "KYCD_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_SOCKET_DIR = os.environ.get("KYCD_BENCH_POSTGRES_SOCKET_DIR", "/var/run/postgresql")
KYCD = [sys.executable, "-m", "kycd.cli"]


@dataclass
class RunningServer:
    base_url: str
    backend: str
    env: dict[str, str]
    credential: dict[str, str]
    pid: int = 0

    def cpu_seconds(self) -> float:
        """CPU time the server and its workers have used so far."""
        return _tree_cpu_seconds(self.pid) if self.pid else 0.0

    def settle(self) -> None:
        """Wait until the server has finished what the last load left queued."""
        if self.pid:
            _wait_until_idle(self.pid)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential['bearer_token']}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(backend: str, data_dir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{data_dir / 'kycd.sqlite3'}"
        return
    name = f"kycd_bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        if backend == "postgres-socket":
            # The same server through its Unix-domain socket, as an API process
            # on the database's own host would connect.
            yield f"postgresql+psycopg://postgres@/{name}?host={POSTGRES_SOCKET_DIR}"
        else:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def running_kycd(backend: str, *, workers: int | None = None) -> Iterator[RunningServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="kycd-bench-"))
    try:
        with database(backend, data_dir) as url:
            env = {**os.environ, "KYCD_DATA_DIR": str(data_dir), "KYCD_DATABASE_URL": url}
            subprocess.run([*KYCD, "migrate"], env=env, check=True, capture_output=True)
            created = subprocess.run(
                [*KYCD, "credentials", "create", "--tenant", "bench", "--json"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            credential = json.loads(created.stdout)
            port = free_port()
            server = subprocess.Popen(
                [
                    *KYCD,
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers or os.cpu_count() or 1),
                ],
                env=env,
            )
            base_url = f"http://127.0.0.1:{port}"
            try:
                _wait_until_up(base_url)
                _wait_until_idle(server.pid)
                yield RunningServer(base_url, backend, env, credential, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_until_up(base_url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("kycd did not start")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the uvicorn workers), from /proc."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    ticks = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def _wait_until_idle(pid: int, timeout: float = 120.0) -> None:
    """Workers warm the screening taggers in the background for several CPU
    seconds after they answer; measuring before that measures the warm-up."""
    deadline = time.monotonic() + timeout
    before = _tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _tree_cpu_seconds(pid)
        if now - before < 0.05:
            return
        before = now
