"""FastAPI dependencies shared by every surface: the database session of the
request, and the authenticated, scope-checked request context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kycd.db import SETTINGS_INFO, Database
from kycd.errors import Forbidden, Unauthorized
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scopes import Scope
from kycd.tenancy.service import authenticate, cached_context, check_environment_header


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work: committed when the endpoint returns, before
    the response is sent, so nothing a client is told succeeded can be lost.
    (The dependency is declared with ``scope="function"`` for that reason.)

    It is async so that opening the session (no I/O) costs no thread hop; the
    commit or rollback, which do I/O, run in the thread pool in one hop."""
    database = get_database(request)
    session = database.session(read_only=request.method in {"GET", "HEAD"})
    # For code that has the session only (event subscribers): the app's settings.
    session.info[SETTINGS_INFO] = request.app.state.settings
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_rollback_and_close, session)
        raise
    await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def parse_credentials(
    authorization: str | None, api_key: str | None, api_secret: str | None
) -> tuple[str, str] | None:
    """Both schemes carry the same credential: ``Bearer <api_key>.<api_secret>``
    or the ``X-Api-Key`` / ``X-Api-Secret`` pair."""
    if api_key or api_secret:
        if not (api_key and api_secret):
            raise Unauthorized("X-Api-Key and X-Api-Secret must be sent together")
        return api_key, api_secret
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or "." not in token:
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        key, _, secret = token.strip().partition(".")
        return key, secret
    return None


async def authenticated_context(request: Request) -> RequestContext:
    """The credential of the request, from ``Authorization: Bearer`` or the
    ``X-Api-Key`` / ``X-Api-Secret`` pair, and the ``X-Environment`` check.

    The headers are read from the request rather than declared as FastAPI
    ``Header`` parameters: FastAPI validates each declared parameter through
    pydantic on every request, which cost more than the rest of a cached status
    read. OpenAPI documents them as security schemes instead (kycd.app)."""
    headers = request.headers
    credentials = parse_credentials(
        headers.get("authorization"), headers.get("x-api-key"), headers.get("x-api-secret")
    )
    if credentials is None:
        raise Unauthorized()
    server_secret: bytes = request.app.state.server_secret
    ctx = cached_context(server_secret, *credentials)
    if ctx is None:
        # Cache miss: one indexed lookup, in its own short read-only session.
        ctx = await run_in_threadpool(
            _authenticate_in_new_session, request, server_secret, credentials
        )
    check_environment_header(ctx, headers.get("x-environment"))
    return ctx


def _authenticate_in_new_session(
    request: Request, server_secret: bytes, credentials: tuple[str, str]
) -> RequestContext:
    with get_database(request).session(read_only=True) as db:
        return authenticate(db, server_secret, *credentials)


async def authorize(request: Request, scope: Scope) -> RequestContext:
    """Authenticate the request and insist on one scope."""
    ctx = await authenticated_context(request)
    if not ctx.has(scope):
        raise Forbidden(f"This credential lacks the '{scope.value}' scope", "insufficient_scope")
    return ctx


def require(scope: Scope) -> Callable[..., Awaitable[RequestContext]]:
    """A dependency that authenticates and then insists on one scope."""

    async def dependency(request: Request) -> RequestContext:
        return await authorize(request, scope)

    return dependency


ReadCtx = Annotated[RequestContext, Depends(require(Scope.READ))]
CreateCtx = Annotated[RequestContext, Depends(require(Scope.CREATE))]
UpdateCtx = Annotated[RequestContext, Depends(require(Scope.UPDATE))]
ReviewCtx = Annotated[RequestContext, Depends(require(Scope.REVIEW))]
AdminCtx = Annotated[RequestContext, Depends(require(Scope.ADMIN))]
