"""The FastAPI application: one domain, several thin API surfaces."""

from __future__ import annotations

import logging
import re
import secrets

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
    app.router.on_startup.append(freeze_long_lived_objects)
    return app
