from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from kycd.core.safe_http import AddressPolicy, check_url, guarded_async_client, guarded_client


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not AddressPolicy().is_allowed(ipaddress.ip_address(address))


def test_public_addresses_pass_and_operators_can_allow_ranges() -> None:
    assert AddressPolicy().is_allowed(ipaddress.ip_address("93.184.216.34"))
    assert AddressPolicy(["10.0.0.0/8"]).is_allowed(ipaddress.ip_address("10.9.9.9"))
    assert not AddressPolicy(["10.0.0.0/8"]).is_allowed(ipaddress.ip_address("192.168.0.1"))


def test_check_url_refuses_bad_urls_up_front() -> None:
    policy = AddressPolicy()
    for url, message in [
        ("http://example.com/x", "https"),
        ("https://169.254.169.254/latest", "non-public"),
        ("https://localhost/hook", "non-public"),
        ("https://user:pw@example.com/", "credentials"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_url(url, policy, require_https=True)


def test_connection_to_loopback_is_refused_at_connect_time(local_server: str) -> None:
    with (
        guarded_client(AddressPolicy()) as client,
        pytest.raises(httpx.ConnectError, match="non-public"),
    ):
        client.get(local_server)


def test_allowed_range_connects_and_redirects_are_not_followed(local_server: str) -> None:
    with guarded_client(AddressPolicy(["127.0.0.0/8"])) as client:
        assert client.get(local_server).text == "hello"
        response = client.get(f"{local_server}/redirect")
        assert response.status_code == 302


async def _fetch(url: str, policy: AddressPolicy) -> httpx.Response:
    async with guarded_async_client(policy) as client:
        return await client.get(url)


def test_async_client_applies_the_same_policy(local_server: str) -> None:
    import anyio

    assert anyio.run(_fetch, local_server, AddressPolicy(["127.0.0.0/8"])).text == "hello"
    with pytest.raises(httpx.ConnectError, match="non-public"):
        anyio.run(_fetch, local_server, AddressPolicy())
