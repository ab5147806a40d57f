"""A real HTTPS server on 127.0.0.1 serving evidence files.

The server's certificate is issued by a throwaway CA (trustme) that the
process trusts through ``SSL_CERT_FILE``, the same knob an operator with a
private CA would turn; nothing in the fetcher is mocked.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
