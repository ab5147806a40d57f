"""The FastAPI application: one domain, several thin API surfaces."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kycd.core.heap import freeze_long_lived_objects
from kycd.core.server_secret import load_server_secret
from kycd.db import Database
from kycd.errors import install_error_handlers, set_trace_id
from kycd.idempotency.middleware import IdempotencyMiddleware
from kycd.settings import Settings, get_settings

_TRACE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class TraceIdMiddleware:
    """Gives every request a traceId (the caller's X-Request-Id when sane), set
    for error bodies and logs and returned as ``X-Trace-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        trace_id = incoming if _TRACE_ID.match(incoming) else secrets.token_hex(16)
        set_trace_id(trace_id)

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-trace-id"]
                headers.append((b"x-trace-id", trace_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_trace)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level)
    # httpx logs every request at INFO; the worker makes many (webhooks, evidence).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    database = database or Database.from_settings(settings)

    app = FastAPI(
        title="kycd",
        version="0.1.0",
        description="Self-hosted KYC/AML compliance engine.",
    )
    app.state.settings = settings
    app.state.database = database
    app.state.server_secret = load_server_secret(settings)

    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(TraceIdMiddleware)

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, str]:
        """Liveness, and the ceiling for the benchmarks: no auth, no database."""
        return {"status": "ok"}

    from kycd.api.routers import include_routers

    include_routers(app)
    _document_credentials(app)
    app.router.on_startup.append(freeze_long_lived_objects)
    return app


_SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <api_key>.<api_secret>`",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "apiSecret": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Secret",
        "description": "With X-Api-Key; an optional `X-Environment: sandbox|production` "
        "must match the credential's environment.",
    },
}


def _document_credentials(app: FastAPI) -> None:
    """Describe the credential headers as OpenAPI security schemes on every
    ``/v1`` operation. They are read from the request by kycd.api.deps rather
    than declared as parameters (cheaper on every request), so FastAPI would
    not document them by itself."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = _SECURITY_SCHEMES
            for path, operations in schema.get("paths", {}).items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}, {"apiKey": [], "apiSecret": []}]
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
