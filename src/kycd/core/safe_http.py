"""HTTP clients for URLs that clients give us (webhook endpoints, evidence links).

Such a URL must never make kycd reach into its own network (SSRF): loopback,
private, link-local (cloud metadata at 169.254.169.254), CGNAT, unique-local,
multicast and reserved addresses are refused unless an operator allows a range
(``KYCD_ALLOWED_PRIVATE_NETWORKS``).

The check runs inside the connection itself: the network backend resolves the
host, checks every address and connects to the checked address. Checking the
name before the request and letting the HTTP library resolve it again would
leave room for DNS rebinding. Redirects are never followed and proxies from
the environment are ignored, so the checked address is the one connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(httpx.TransportError):
    """The URL resolves to an address kycd may not connect to."""


class AddressPolicy:
    def __init__(self, allowed_networks: Iterable[str] = ()) -> None:
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]

    def is_allowed(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return True
        # is_global is False for private, loopback, link-local, CGNAT (100.64/10),
        # ULA (fc00::/7), documentation and reserved ranges.
        return address.is_global and not address.is_multicast

    def check(self, host: str, address: IPAddress) -> None:
        if not self.is_allowed(address):
            raise BlockedAddress(f"{host} resolves to {address}, a non-public address")


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal_ip(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def resolve_async(host: str, port: int) -> list[IPAddress]:
    literal = _literal_ip(host)
    if literal is not None:
        return [literal]
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _allowed_addresses(
    policy: AddressPolicy, host: str, addresses: list[IPAddress]
) -> list[IPAddress]:
    if not addresses:
        raise httpx.ConnectError(f"{host} does not resolve")
    # Every address must pass: a name that resolves to one public and one private
    # address is refused rather than raced.
    for address in addresses:
        policy.check(host, address)
    return addresses


class GuardedSyncBackend(httpcore.SyncBackend):
    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        try:
            checked = _allowed_addresses(self.policy, host, addresses)
        except BlockedAddress as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return super().connect_tcp(str(checked[0]), port, *args, **kwargs)


class GuardedAsyncBackend(httpcore.AnyIOBackend):
    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    async def connect_tcp(
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve_async(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        try:
            checked = _allowed_addresses(self.policy, host, addresses)
        except BlockedAddress as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return await super().connect_tcp(str(checked[0]), port, *args, **kwargs)


BLOCKED_PREFIX = "non-public address"


def is_blocked_error(exc: BaseException) -> bool:
    """True when a request failed because its URL resolved to a refused address."""
    return BLOCKED_PREFIX in str(exc)


def guarded_client(
    policy: AddressPolicy, *, timeout: float = 15.0, max_connections: int = 20
) -> httpx.Client:
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; the pool it builds is
    # replaced by one with the same settings and our resolving backend.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        network_backend=GuardedSyncBackend(policy),
    )
    return httpx.Client(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )


def guarded_async_client(
    policy: AddressPolicy, *, timeout: float = 15.0, max_connections: int = 100
) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        network_backend=GuardedAsyncBackend(policy),
    )
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )


def check_url(url: str, policy: AddressPolicy, *, require_https: bool) -> str:
    """Validate a client-supplied URL at the moment it is given to us.

    Raises ValueError with a message fit for a 400. The address is checked
    again at every connection; this early check gives the client a clear error.
    """
    parts = urlsplit(url)
    if parts.scheme not in ({"https"} if require_https else {"http", "https"}):
        raise ValueError("must be an https URL" if require_https else "must be an http(s) URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(parts.hostname, port)
    except OSError:
        # Unresolvable now is not proof of harm; the connection checks again.
        return url
    for address in addresses:
        if not policy.is_allowed(address):
            raise ValueError(f"resolves to a {BLOCKED_PREFIX} ({address})")
    return url
