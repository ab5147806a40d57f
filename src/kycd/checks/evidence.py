"""Fetching the evidence file behind a check's ``data_download_link``.

The download streams into the blob store chunk by chunk (hashed on the way),
so a 250 MB file never sits in memory, and stops as soon as it passes the
limit. Every connection, including each redirect hop, goes through
:func:`kycd.core.safe_http.guarded_client`, which refuses private, loopback
and link-local addresses unless the operator allowed them.

Failures are sorted into permanent (the link will never give us the file:
404, refused address, too large) and transient (timeouts, 5xx, 429), which
the worker retries with backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from kycd.checks.outcome import FailureReason
from kycd.checks.validators import https_url_problem
from kycd.core.blobs import BlobStore, BlobTooLarge, StoredBlob
from kycd.core.safe_http import is_blocked_error
from kycd.settings import Settings

CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 5
# Answers worth asking again: the server is busy, down or rate-limiting us.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    connect_timeout: float
    read_timeout: float
    total_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            max_bytes=settings.evidence_max_bytes,
            connect_timeout=settings.evidence_connect_timeout_seconds,
            read_timeout=settings.evidence_read_timeout_seconds,
            total_timeout=settings.evidence_total_timeout_seconds,
        )

    @property
    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )


class EvidenceError(Exception):
    def __init__(self, reason: FailureReason, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.permanent = permanent


def _unavailable(message: str, *, permanent: bool) -> EvidenceError:
    return EvidenceError(FailureReason.EVIDENCE_UNAVAILABLE, message, permanent=permanent)


def _too_large(limit: int) -> EvidenceError:
    return EvidenceError(
        FailureReason.EVIDENCE_TOO_LARGE, f"file exceeds {limit} bytes", permanent=True
    )


def _declared_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _chunks_until(
    response: httpx.Response, deadline: float, clock: Callable[[], float]
) -> Iterator[bytes]:
    # iter_raw: the bytes as served, so the SHA-256 is that of the file the
    # provider published (we also ask for no content-encoding).
    for chunk in response.iter_raw(CHUNK_SIZE):
        if clock() > deadline:
            raise _unavailable("download took longer than the total timeout", permanent=False)
        yield chunk


def _next_location(response: httpx.Response, url: str) -> str:
    location: str | None = response.headers.get("location")
    if not location:
        raise _unavailable(f"HTTP {response.status_code} without a Location", permanent=True)
    target: str = urljoin(url, location)
    problem = https_url_problem(target)
    if problem:
        raise _unavailable(f"redirected to a URL that {problem}", permanent=True)
    return target


def _store_response(
    response: httpx.Response,
    store: BlobStore,
    limits: FetchLimits,
    deadline: float,
    clock: Callable[[], float],
) -> StoredBlob:
    status = response.status_code
    if status in TRANSIENT_STATUSES:
        raise _unavailable(f"HTTP {status}", permanent=False)
    if status != 200:
        raise _unavailable(f"HTTP {status}", permanent=True)
    declared = _declared_length(response)
    if declared is not None and declared > limits.max_bytes:
        # Refused before a single byte is read.
        raise _too_large(limits.max_bytes)
    return store.put_stream(_chunks_until(response, deadline, clock), max_bytes=limits.max_bytes)


def fetch_evidence(
    client: httpx.Client,
    url: str,
    store: BlobStore,
    limits: FetchLimits,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> StoredBlob:
    """Download ``url`` into ``store``; raise :class:`EvidenceError` on failure."""
    deadline = clock() + limits.total_timeout
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            with client.stream(
                "GET",
                url,
                headers={"Accept-Encoding": "identity"},
                timeout=limits.httpx_timeout,
            ) as response:
                if response.is_redirect:
                    url = _next_location(response, url)
                    continue
                return _store_response(response, store, limits, deadline, clock)
        except BlobTooLarge as exc:
            raise _too_large(exc.limit) from exc
        except httpx.TimeoutException as exc:
            raise _unavailable(f"timed out: {type(exc).__name__}", permanent=False) from exc
        except httpx.TransportError as exc:
            if is_blocked_error(exc):
                raise EvidenceError(
                    FailureReason.EVIDENCE_ADDRESS_REFUSED, str(exc), permanent=True
                ) from exc
            raise _unavailable(f"connection failed: {exc}", permanent=False) from exc
    raise _unavailable(f"more than {MAX_REDIRECTS} redirects", permanent=True)
