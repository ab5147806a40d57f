"""A real HTTPS server on 127.0.0.1 serving evidence files, and the fixtures of
the user-checks tests (imported by the test modules: a second ``conftest.py``
would shadow the root one's ``from conftest import …``).

The server's certificate is issued by a throwaway CA (trustme) that the
process trusts through ``SSL_CERT_FILE``, the same knob an operator with a
private CA would turn; nothing in the fetcher is mocked.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from kycd.settings import Settings

OK_BODY = b"PK\x03\x04 evidence of identity " * 100  # 2,900 bytes
LIMIT = 4096
SLOW_SECONDS = 1.0


class EvidenceServer:
    def __init__(self, base: str) -> None:
        self.base = base
        self.hits: dict[str, int] = {}
        # /gated answers only once the test opens the gate.
        self.gate = threading.Event()
        self.gate_reached = threading.Event()

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def make_handler(server_state: EvidenceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, length: int | None = None) -> None:
            self.send_response(status)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path
            hits = server_state.hits[path] = server_state.hits.get(path, 0) + 1
            if path.startswith("/ok/"):
                self._send(200, OK_BODY, len(OK_BODY))
            elif path == "/empty":
                self._send(200, b"", 0)
            elif path == "/big":
                self._send(200, b"x" * (LIMIT + 1), LIMIT + 1)
            elif path == "/big-unannounced":
                # No Content-Length: the size is only known by reading.
                self._send(200, b"y" * (LIMIT * 3))
            elif path.startswith("/gated/"):
                server_state.gate_reached.set()
                server_state.gate.wait(timeout=10)
                self._send(200, OK_BODY, len(OK_BODY))
            elif path == "/missing":
                self._send(404, b"not found", 9)
            elif path == "/slow":
                self.send_response(200)
                self.send_header("Content-Length", str(len(OK_BODY)))
                self.end_headers()
                time.sleep(SLOW_SECONDS)
                self.wfile.write(OK_BODY)
            elif path == "/flaky":
                if hits == 1:
                    self._send(503, b"busy", 4)
                else:
                    self._send(200, OK_BODY, len(OK_BODY))
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/ok/after-redirect.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/redirect-to-http":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1/ok/plain.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(404, b"", 0)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client hanging up on /slow and /big is the point of those tests.
        pass


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
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
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
