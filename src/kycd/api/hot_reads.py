"""The shape of the reads integrators poll (``GET /v1/compliance/status/{id}``,
``GET /v1/customers/{id}``): read on the event loop, or with a session in the
thread pool when that fails.

Such an endpoint takes the bare request: FastAPI's resolution of declared
parameters and dependencies cost more than the read itself (profiled), so the
credential is checked by :func:`kycd.api.deps.authorize` (as ``ReadCtx`` does)
and the one path parameter is read from the request, and documented with
:func:`path_parameter` instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from kycd.api.deps import authorize
from kycd.db import Database, has_id_shape
from kycd.errors import NotFound
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scopes import Scope

OnLoop = Callable[[Database, RequestContext, str], Awaitable[str | None]]
InPool = Callable[[Database, RequestContext, str], str]


def path_parameter(name: str) -> dict[str, Any]:
    """``openapi_extra`` documenting the path parameter the endpoint reads itself."""
    title = name.replace("_", " ").title()
    schema = {"title": title, "type": "string"}
    return {"parameters": [{"name": name, "in": "path", "required": True, "schema": schema}]}


async def read_json(
    request: Request, key_parameter: str, what: str, on_loop: OnLoop, in_pool: InPool
) -> str:
    """The JSON ``on_loop`` reads for the request's key, in the caller's
    scope; ``in_pool`` reads it when ``on_loop`` could not (it answered None).
    A key not shaped as an id is not found without a read: it cannot name a
    row, and it must not reach a statement that other requests share (one
    the driver refuses, such as a NUL byte on PostgreSQL, fails them all)."""
    ctx = await authorize(request, Scope.READ)
    key: str = request.path_params[key_parameter]
    if not has_id_shape(key):
        raise NotFound(f"{what} not found")
    database: Database = request.app.state.database
    body = await on_loop(database, ctx, key)
    if body is None:
        body = await run_in_threadpool(in_pool, database, ctx, key)
    return body
