"""JSON bodies rendered ahead of the response, byte for byte as FastAPI's own.

The hottest reads build their body themselves (a stored answer served
verbatim, a view read off the event loop) instead of returning a model for
FastAPI to validate again in the thread pool; they render it exactly as
Starlette's ``JSONResponse`` would, so a client sees no difference."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response


def json_text(value: Any) -> str:
    """``value`` (JSON-ready: dicts, lists, strings, numbers) as JSONResponse renders it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_response(body: str, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type="application/json")
