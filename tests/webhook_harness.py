"""A real webhook receiver on 127.0.0.1 that verifies every request with the
``standardwebhooks`` library, and a driver that runs the worker's delivery
steps one round at a time against a fake clock."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kycd.core.safe_http import AddressPolicy, guarded_async_client
from kycd.db import Database
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.webhooks.delivery import AttemptResult, DeliveryConfig, claim_due, record_results, send
from kycd.webhooks.outbox import fan_out
from kycd.webhooks.signing import SecretBox

# The server secret tests/conftest.py gives the app (KYCD_SECRET_KEY).
TEST_SECRET = b"test-server-secret"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    # Index into Receiver.secrets of the secret that verified it; None if none did.
    verified_by: list[int]

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers each POST with the next scripted (status, delay), then 200."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.received: list[Received] = []
        self.script: deque[tuple[int, float]] = deque()
        self.default: tuple[int, float] = (200, 0.0)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = []
                for index, secret in enumerate(receiver.secrets):
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(index)
                    except WebhookVerificationError:
                        pass
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, verified))
                    status, delay = (
                        receiver.script.popleft() if receiver.script else receiver.default
                    )
                if receiver.secrets and not verified:
                    status = 400
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", f"{receiver.url}/redirected")
                    answer = b'{"note":"RESPONSE-BODY-MUST-NOT-LEAK"}'
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass

            def do_GET(self) -> None:
                with receiver.lock:
                    receiver.received.append(Received(self.path, {}, b"", []))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    def posts(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == "/hook"]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.posts()
            if len(posts) >= count:
                return posts
            time.sleep(0.01)
        raise AssertionError(f"expected {count} webhooks, got {len(self.posts())}")


def register(api: Any, receiver: Receiver, event_types: list[str] | None = None) -> dict[str, Any]:
    response = api.post(
        "/v1/webhooks/endpoints",
        json={"url": receiver.hook_url, "event_types": event_types or ["*"]},
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    receiver.secrets.append(endpoint["secret"])
    return endpoint


def emit(
    database: Database,
    tenant_id: str,
    event_type: str,
    payload: dict[str, Any],
    environment: str = "sandbox",
) -> str:
    with database.transaction() as db:
        event = record_event(
            db,
            RequestContext(tenant_id, environment, actor_type="system"),
            event_type,
            payload=payload,
        )
        db.flush()
        return event.id


class Rounds:
    """The worker's steps, one round at a time, at a time the test chooses."""

    def __init__(self, database: Database, policy: AddressPolicy, timeout: float = 2.0) -> None:
        self.database = database
        self.policy = policy
        self.box = SecretBox(TEST_SECRET)
        self.config = DeliveryConfig(timeout=timeout, lease_margin=1.0)
        self.rng = random.Random(7)

    async def _send_all(self, claimed: list[Any]) -> list[AttemptResult]:
        async with guarded_async_client(self.policy, timeout=self.config.timeout) as client:
            return list(
                await asyncio.gather(*(send(client, c, self.config.timeout) for c in claimed))
            )

    def run(self, now: datetime) -> list[AttemptResult]:
        fan_out(self.database, now)
        claimed = claim_due(self.database, self.box, now, 100, self.config)
        results = asyncio.run(self._send_all(claimed)) if claimed else []
        record_results(self.database, results, now, self.rng)
        return results


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def rounds(database: Database) -> Rounds:
    return Rounds(database, AddressPolicy(["127.0.0.0/8"]))
