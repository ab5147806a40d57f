"""Plumbing of the console's HTML pages: templates, cookies, CSRF, errors.

Pages are server-rendered with Jinja2 (autoescaped). Security decisions made
here, once, for every page:

* the session cookie is ``HttpOnly``, ``SameSite=Lax``, scoped to ``/console``,
  and ``Secure`` whenever the request came over TLS;
* every POST carries the session's CSRF token in a form field (a synchronizer
  token; the login form, which has no session yet, uses a double-submit cookie),
  and a cross-site ``Origin`` is refused outright;
* pages are never cached (a freshly issued API secret must not linger in a
  cache) and never framed; scripts and styles come only from ``/console/static``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kycd.console.permissions import Action, allowed
from kycd.console.service import ActiveSession
from kycd.errors import ApiError, Forbidden, ValidationFailed, validation_details

SESSION_COOKIE = "kycd_console"
LOGIN_CSRF_COOKIE = "kycd_console_login"
COOKIE_PATH = "/console"
PACKAGE_DIR = Path(__file__).parent

templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(value: str | None) -> str:
    """Only same-site console paths: ``next`` must never become an open redirect."""
    if value and value.startswith("/console/") and not value.startswith("//"):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and "\\" not in value:
            return value
    return "/console/dashboard"


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_tls(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="lax", secure=is_tls(request)
    )


def check_origin(request: Request) -> None:
    """Browsers send ``Origin`` on form POSTs; one naming another site is a forgery
    whatever the token says."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    # The Host header, or the configured public address: a reverse proxy that
    # does not pass Host on must not lock operators out.
    public = urlsplit(request.app.state.settings.public_base_url).netloc
    if urlsplit(origin).netloc not in {request.headers.get("host", ""), public}:
        raise Forbidden("Cross-site request refused", "csrf_failed")


def check_csrf(expected: str, sent: str) -> None:
    if not sent or not secrets.compare_digest(expected.encode(), sent.encode()):
        raise Forbidden(
            "The form has expired or did not come from this console. Reload and try again.",
            "csrf_failed",
        )


def require(active: ActiveSession, action: Action) -> None:
    if not allowed(active.operator.role, action):
        raise Forbidden("Your role does not allow this", "not_permitted")


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    active: ActiveSession | None = None,
    status_code: int = 200,
) -> Response:
    role = active.operator.role if active else ""
    response = templates.TemplateResponse(
        request,
        name,
        {
            "active": active,
            "csrf_token": active.session.csrf_token if active else "",
            "can": lambda action: bool(active) and allowed(role, Action(action)),
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(url: str) -> RedirectResponse:
    # 303: after a POST the browser follows with a GET, so a reload does not repost.
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


class ConsoleRoute(APIRoute):
    """Answers errors of console pages with HTML, not the API's JSON body, and
    sends visitors without a session to the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return redirect(f"/console/login?next={quote(exc.next_path, safe='/')}")
            except RequestValidationError as exc:
                invalid = ValidationFailed(validation_details(exc.errors()))
                return await run_in_threadpool(_rollback_and_render_error, request, invalid)
            except ApiError as exc:
                # The error is answered here, inside the request's unit of work,
                # which would therefore commit: undo the half-done change first.
                return await run_in_threadpool(_rollback_and_render_error, request, exc)

        return console_handler


def _rollback_and_render_error(request: Request, exc: ApiError) -> Response:
    db: Session | None = getattr(request.state, "console_db", None)
    if db is not None:
        db.rollback()
    response = render(
        request,
        "error.html",
        {"status": exc.status_code, "message": exc.message, "details": exc.details},
        active=getattr(request.state, "console_session", None),
        status_code=exc.status_code,
    )
    response.headers.update(exc.headers or {})
    return response
