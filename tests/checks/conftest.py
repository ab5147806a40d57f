"""Fixtures of the user-checks tests: the HTTPS evidence server, small limits."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import trustme
from check_server import LIMIT, EvidenceServer, QuietServer, make_handler

from kycd.settings import Settings


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
def evidence_server(
    test_ca: tuple[trustme.CA, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[EvidenceServer]:
    ca, ca_path = test_ca
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = EvidenceServer(f"https://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = make_handler(state)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    """The test settings with limits small enough to exercise in milliseconds."""
    return settings.model_copy(
        update={
            "evidence_max_bytes": LIMIT,
            "evidence_connect_timeout_seconds": 2.0,
            "evidence_read_timeout_seconds": 0.3,
            "evidence_total_timeout_seconds": 5.0,
            "evidence_max_attempts": 3,
            "evidence_retry_base_seconds": 60.0,
            "evidence_retry_max_seconds": 600.0,
        }
    )


@pytest.fixture
def make_customer(api: Any) -> Callable[..., str]:
    from factories import customer_payload

    def make(client: Any = None) -> str:
        response = (client or api).post("/v1/customers", json=customer_payload())
        assert response.status_code == 201, response.text
        customer_id: str = response.json()["id"]
        return customer_id

    return make
