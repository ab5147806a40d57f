"""The same-origin test for browser form posts, shared by HTML surfaces."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request


def is_cross_site(request: Request, public_base_url: str) -> bool:
    """Browsers send ``Origin`` on form POSTs; one naming a host that is neither
    the request's ``Host`` nor the configured public address is a forgery.
    No ``Origin`` (or ``null``, sent by some privacy settings) is not proof of
    anything either way, so other defences must hold on their own."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    allowed = {request.headers.get("host", ""), urlsplit(public_base_url).netloc}
    return urlsplit(origin).netloc not in allowed
