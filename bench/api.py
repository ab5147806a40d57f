"""API throughput and latency, measured with wrk against a real ``kycd serve``.

Why wrk: it is a C load generator using a few percent of a core, so on this
small machine nearly all CPU goes to the server being measured; a Python
client would compete with the server for the same two cores. Every figure is
reported as a ratio against the bare ``/healthz`` endpoint of the same app,
measured in the same run, so the ratios carry across machines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._server import RunningServer, running_kycd

CONNECTIONS = 32
DURATION = "10s"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU per request of the kycd processes and of PostgreSQL's, in µs.
    server_us: float = 0.0
    database_us: float = 0.0


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(name: str, url: str, headers: dict[str, str], script: str | None = None) -> Result:
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    script_file = None
    if script:
        script_file = Path(tempfile.mktemp(suffix=".lua"))
        script_file.write_text(script)
        args += ["-s", str(script_file)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if script_file:
        script_file.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(name, rps, p50, p99, int(errors_match.group(1)) if errors_match else 0)


POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local prefix = "%s"
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
end
function init(args)
  prefix = prefix .. "-" .. tostring(thread_no)
end
request = function()
  counter = counter + 1
  local body = '{"client_id": "' .. prefix .. '-' .. counter .. '", "first_name": "Ada", "last_name": "Lovelace", "nationality": "GB"}'
  return wrk.format(nil, nil, nil, body)
end
"""


def measure(server: RunningServer) -> list[Result]:
    customer = httpx.post(
        f"{server.base_url}/v1/customers",
        json={"client_id": "bench-get", "first_name": "Ada", "last_name": "Lovelace"},
        headers=server.auth,
    ).json()
    runs: list[tuple[str, str, dict[str, str], str | None]] = [
        ("bare JSON (/healthz)", f"{server.base_url}/healthz", {}, None),
        (
            "GET /v1/customers/{id}",
            f"{server.base_url}/v1/customers/{customer['id']}",
            server.auth,
            None,
        ),
        (
            "POST /v1/customers",
            f"{server.base_url}/v1/customers",
            server.auth,
            POST_SCRIPT % uuid.uuid4().hex[:8],
        ),
        (
            "GET /v1/compliance/status/{id}",
            f"{server.base_url}/v1/compliance/status/{customer['id']}",
            server.auth,
            None,
        ),
    ]
    results = []
    for name, url, headers, script in runs:
        # wrk stops sending, not the server working: up to 32 requests it had
        # accepted (slow writes) must not be counted against the next run.
        server.settle()
        server_cpu, database_cpu = server.cpu_seconds(), postgres_cpu_seconds()
        result = wrk(name, url, headers, script)
        requests = result.rps * float(DURATION.rstrip("s"))
        result.server_us = (server.cpu_seconds() - server_cpu) / requests * 1e6
        if server.backend.startswith("postgres"):
            result.database_us = (postgres_cpu_seconds() - database_cpu) / requests * 1e6
        results.append(result)
    return results


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this host, from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if not stat[stat.index("(") + 1 : stat.rindex(")")].startswith("postgres"):
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


TARGETS = {
    "GET /v1/customers/{id}": (0.50, 50.0),
    "POST /v1/customers": (0.25, 50.0),
    "GET /v1/compliance/status/{id}": (0.50, 20.0),
}


def postgres_round_trip(url: str, count: int = 3000) -> tuple[float, float, float]:
    """Wall time and client and server CPU of one trivial prepared query on
    PostgreSQL, in microseconds: the floor under any read that goes to it."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        stat = Path(f"/proc/{conn.info.backend_pid}/stat")

        def server_cpu() -> float:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        for _ in range(100):
            conn.execute("SELECT %s::text", ("x",), prepare=True).fetchone()
        wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu()
        for _ in range(count):
            conn.execute("SELECT %s::text", ("x",), prepare=True).fetchone()
        return (
            (time.perf_counter() - wall) / count * 1e6,
            (time.process_time() - cpu) / count * 1e6,
            (server_cpu() - server) / count * 1e6,
        )


def run() -> str:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    lines = [
        "## API throughput (wrk, 32 connections, 10 s each, `kycd serve` with one worker per core)",
        "",
        "Ratios are against the bare endpoint of the same app in the same run. wrk runs on the",
        "same 2 cores as the server, so absolute figures are lower than on a dedicated client.",
        "CPU per request is what the kycd processes and PostgreSQL's used during the run,",
        "divided by the requests served: where the time of an endpoint goes.",
        "",
        "| backend | endpoint | req/s | ratio to bare | p50 ms | p99 ms | non-2xx "
        "| kycd CPU µs/req | PostgreSQL CPU µs/req | target (ratio, p99) | met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    notes = []
    # PostgreSQL twice: over TCP on 127.0.0.1 (as to a database on another
    # host), and over its Unix-domain socket (an API process on the database's
    # own host), which costs less CPU per round trip on both sides.
    for backend in ("sqlite", "postgres", "postgres-socket"):
        with running_kycd(backend) as server:
            results = measure(server)
            if backend.startswith("postgres"):
                wall, client, db = postgres_round_trip(server.env["KYCD_DATABASE_URL"])
                over = "TCP on 127.0.0.1" if backend == "postgres" else "the Unix socket"
                notes.append(
                    f"One PostgreSQL round trip (a trivial prepared query over {over}), "
                    f"measured in the same run: {wall:.0f} µs wall, "
                    f"{client:.0f} µs of client CPU and {db:.0f} µs of server CPU. "
                    f"The polled reads (status, customer) share one round trip among the "
                    f"requests that arrive together (docs/api.md)."
                )
        bare = results[0].rps
        for r in results:
            ratio = r.rps / bare
            target = TARGETS.get(r.name)
            if target:
                met = "yes" if ratio >= target[0] and r.p99_ms < target[1] else "no"
                target_text = f"≥ {target[0]:.0%}, < {target[1]:.0f} ms"
            else:
                met, target_text = "", "ceiling"
            lines.append(
                f"| {backend} | {r.name} | {r.rps:,.0f} | {ratio:.0%} | {r.p50_ms:.1f} | "
                f"{r.p99_ms:.1f} | {r.errors} | {r.server_us:,.0f} | "
                f"{f'{r.database_us:,.0f}' if backend != 'sqlite' else 'n/a'} | {target_text} | {met} |"
            )
    return "\n".join([*lines, "", *notes]) + "\n"
