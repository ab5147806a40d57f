"""One error body for every API surface.

Every error kycd answers has the shape::

    {"code": "not_found", "message": "Customer not found",
     "details": [{"field": "client_id", "message": "..."}], "traceId": "..."}

Validation problems answer 400 (as the seeds document), not FastAPI's 422.
Surfaces with their own dialect (Fineract's 403 of seed 001) raise
:class:`RawApiError` with the body they need; the traceId is still added.
"""

from __future__ import annotations

import logging
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("kycd")

_trace_id: ContextVar[str] = ContextVar("kycd_trace_id", default="")


def current_trace_id() -> str:
    trace_id = _trace_id.get()
    if not trace_id:
        trace_id = secrets.token_hex(16)
        _trace_id.set(trace_id)
    return trace_id


def set_trace_id(value: str) -> None:
    _trace_id.set(value)


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class ApiError(Exception):
    status_code: int
    code: str
    message: str
    details: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "details": [d.as_dict() for d in self.details],
            "traceId": current_trace_id(),
        }


class BadRequest(ApiError):
    def __init__(self, message: str, *, field: str | None = None, code: str = "bad_request"):
        details = [FieldError(field, message)] if field else []
        super().__init__(400, code, message, details)


class ValidationFailed(ApiError):
    def __init__(self, details: list[FieldError]):
        fields = ", ".join(d.field for d in details)
        super().__init__(400, "validation_error", f"Invalid parameters: {fields}", details)


class Unauthorized(ApiError):
    def __init__(self, message: str = "Missing or invalid credentials"):
        super().__init__(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    def __init__(self, message: str, code: str = "forbidden"):
        super().__init__(403, code, message)


class NotFound(ApiError):
    def __init__(self, message: str = "Not found", code: str = "not_found"):
        super().__init__(404, code, message)


class Conflict(ApiError):
    def __init__(self, message: str, code: str = "conflict"):
        super().__init__(409, code, message)


class RawApiError(Exception):
    """An error whose body is dictated by a seed (for example Fineract's shape)."""

    def __init__(self, status_code: int, body: dict[str, Any]):
        super().__init__(status_code, body)
        self.status_code = status_code
        self.body = body


def _field_name(loc: tuple[int | str, ...]) -> str:
    # ("body", "addresses", 0, "country") -> "addresses.0.country";
    # ("query", "limit") -> "limit". The location kind adds nothing for a client.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    # Discriminated unions add the tag as a path element ("KYC"); keep it, it
    # tells the client which variant was validated.
    return ".".join(parts) or "body"


def validation_details(errors: Any) -> list[FieldError]:
    details = []
    for err in errors:
        message = str(err.get("msg", "invalid value"))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        loc = tuple(err.get("loc", ()))
        if err.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
            # A missing or unknown discriminator is a problem of that field
            # ("type"), which pydantic reports at the level of the whole object.
            loc = (*loc, str(err.get("ctx", {}).get("discriminator", "")).strip("'"))
        details.append(FieldError(_field_name(loc), message))
    return details


def error_response(
    status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    response = JSONResponse(body, status_code=status_code, headers=headers)
    response.headers["X-Trace-Id"] = current_trace_id()
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.body(), exc.headers)

    @app.exception_handler(RawApiError)
    async def _raw_error(_request: Request, exc: RawApiError) -> JSONResponse:
        return error_response(exc.status_code, {**exc.body, "traceId": current_trace_id()})

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, ValidationFailed(validation_details(exc.errors())).body())

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        err = ApiError(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
        return error_response(exc.status_code, err.body(), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error (traceId=%s)", current_trace_id(), exc_info=exc)
        err = ApiError(500, "internal_error", "Internal server error")
        return error_response(500, err.body())
