"""Apache Fineract's dialect, spoken by every ``/v1/clients`` route (seed 001).

* Errors: Fineract's body (``developerMessage``, ``httpStatusCode``,
  ``defaultUserMessage``, ``userMessageGlobalisationCode``, ``errors[]``), with
  kycd's own ``code``/``message``/``details`` beside it so that a client of the
  other surfaces parses it too. :class:`FineractRoute` translates every error of
  a route into it.
* Dates: ISO ``yyyy-MM-dd`` by default; a request may instead send Fineract's
  ``dateFormat`` (a Java pattern such as ``dd MMMM yyyy``) and ``locale``.
* Statuses: Fineract's enum options (``{"id": 100, "code": "clientStatusType.pending",
  "value": "Pending"}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from kycd.customers.models import CustomerStatus
from kycd.errors import ApiError, FieldError, RawApiError, validation_details
from kycd.lifecycle.rules import Violation

DOMAIN_RULE_DEVELOPER_MESSAGE = "Request was understood but caused a domain rule violation."
DOMAIN_RULE_USER_MESSAGE = "Errors contain reason for domain rule violation."
DOMAIN_RULE_CODE = "validation.msg.domain.rule.violation"


def error_entry(
    code: str, message: str, parameter_name: str | None, value: Any = None
) -> dict[str, Any]:
    # "value" is always null: the rejected value may be an identity number.
    return {
        "developerMessage": message,
        "defaultUserMessage": message,
        "userMessageGlobalisationCode": code,
        "parameterName": parameter_name,
        "value": value,
        "args": [],
    }


def error_body(
    status_code: int,
    *,
    developer_message: str,
    user_message: str,
    code: str,
    errors: Sequence[dict[str, Any]],
    kycd_code: str,
) -> dict[str, Any]:
    return {
        "developerMessage": developer_message,
        "httpStatusCode": str(status_code),
        "defaultUserMessage": user_message,
        "userMessageGlobalisationCode": code,
        "errors": list(errors),
        "code": kycd_code,
        "message": developer_message,
        "details": [
            {"field": e["parameterName"], "message": e["developerMessage"]}
            for e in errors
            if e["parameterName"]
        ],
    }


class DomainRuleViolation(RawApiError):
    """403: the request is understood but a rule forbids it; state is unchanged."""

    def __init__(self, violations: Sequence[Violation], summary: str) -> None:
        errors = [error_entry(v.code, v.message, v.parameter_name) for v in violations]
        super().__init__(
            403,
            error_body(
                403,
                developer_message=summary,
                user_message=DOMAIN_RULE_USER_MESSAGE,
                code=DOMAIN_RULE_CODE,
                errors=errors,
                kycd_code="domain_rule_violation",
            ),
        )


def domain_rule(code: str, message: str, parameter_name: str | None = None) -> DomainRuleViolation:
    return DomainRuleViolation([Violation("RULE", code, parameter_name or "id", message)], message)


_TOP_LEVEL = {
    400: (
        "The request was invalid. This typically will happen due to validation errors which are provided.",
        "Validation errors exist.",
        "validation.msg.validation.errors.exist",
    ),
    401: (
        "Invalid authentication details were passed in api request.",
        "Unauthenticated. Please login.",
        "error.msg.not.authenticated",
    ),
    403: (
        "The user associated with credentials passed on this request does not have sufficient privileges to perform this action.",
        "Insufficient privileges to perform this action.",
        "error.msg.not.authorized",
    ),
    404: (
        "The requested resource is not available.",
        "The requested resource is not available.",
        "error.msg.resource.not.found",
    ),
    409: (
        "The resource was changed by another request; retry with fresh data.",
        "The resource was changed concurrently.",
        "error.msg.resource.conflict",
    ),
    413: (
        "The request entity is too large.",
        "The uploaded file is too large.",
        "error.msg.upload.too.large",
    ),
    415: (
        "The uploaded content type is not supported.",
        "The uploaded file type is not supported.",
        "error.msg.upload.unsupported.media.type",
    ),
}


def _field_code(resource: str, field: str, kycd_code: str) -> str:
    leaf = field.split(".")[0] or "body"
    suffix = "cannot.be.blank" if kycd_code == "missing" else "invalid"
    return f"validation.msg.{resource}.{leaf}.{suffix}"


def from_api_error(exc: ApiError, resource: str) -> dict[str, Any]:
    developer, user, code = _TOP_LEVEL.get(
        exc.status_code, (exc.message, exc.message, f"error.msg.{exc.code}")
    )
    if exc.details:
        errors = [
            error_entry(_field_code(resource, d.field, exc.code), d.message, d.field)
            for d in exc.details
        ]
    else:
        errors = [error_entry(f"error.msg.{resource}.{exc.code}", exc.message, None)]
    if exc.status_code != 400:
        developer = exc.message
    return error_body(
        exc.status_code,
        developer_message=developer,
        user_message=user,
        code=code,
        errors=errors,
        kycd_code=exc.code,
    )


def from_validation_error(exc: RequestValidationError, resource: str) -> dict[str, Any]:
    details: list[FieldError] = validation_details(exc.errors())
    kinds = [str(e.get("type", "")) for e in exc.errors()]
    developer, user, code = _TOP_LEVEL[400]
    errors = [
        error_entry(_field_code(resource, d.field, kind), d.message, d.field)
        for d, kind in zip(details, kinds, strict=True)
    ]
    return error_body(
        400,
        developer_message=developer,
        user_message=user,
        code=code,
        errors=errors,
        kycd_code="validation_error",
    )


def _resource_of(path: str) -> str:
    for marker, resource in (
        ("/identifiers", "clientIdentifier"),
        ("/documents", "document"),
        ("/addresses", "address"),
    ):
        if marker in path:
            return resource
    return "client"


class FineractRoute(APIRoute):
    """A route whose every error speaks Fineract's dialect.

    Errors are re-raised, never turned into a response here: the request's
    database session must see the exception to roll back."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        resource = _resource_of(self.path_format)

        async def fineract_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RawApiError(400, from_validation_error(exc, resource)) from exc
            except ApiError as exc:
                raise RawApiError(exc.status_code, from_api_error(exc, resource)) from exc
            except StarletteHTTPException as exc:
                # Raised by Starlette itself, e.g. for a malformed multipart body.
                err = ApiError(exc.status_code, "http_error", str(exc.detail))
                raise RawApiError(exc.status_code, from_api_error(err, resource)) from exc

        return fineract_handler


# --- statuses ---------------------------------------------------------------

# Fineract's ClientStatus ids; the states Fineract lacks take ids it does not use
# (200 sits between its Pending 100 and Active 300, where Verified belongs).
_STATUS_IDS = {
    CustomerStatus.PENDING: (100, "pending", "Pending"),
    CustomerStatus.VERIFIED: (200, "verified", "Verified"),
    CustomerStatus.ACTIVE: (300, "active", "Active"),
    CustomerStatus.CLOSED: (600, "closed", "Closed"),
    CustomerStatus.REJECTED: (700, "rejected", "Rejected"),
    CustomerStatus.WITHDRAWN: (800, "withdrawn", "Withdrawn"),
    CustomerStatus.DEACTIVATED: (900, "deactivated", "Deactivated"),
}


def status_option(status: str) -> dict[str, Any]:
    """Seed 001's states, Pending -> Verified -> Active, as Fineract enum options.
    The seed also calls Verified a sub-status: :func:`sub_status_option` says it too."""
    ident, code, value = _STATUS_IDS[CustomerStatus(status)]
    return {"id": ident, "code": f"clientStatusType.{code}", "value": value}


def sub_status_option(verified: bool) -> dict[str, Any] | None:
    if not verified:
        return None
    return {"code": "clientSubStatusType.verified", "value": "Verified"}


# --- dates ------------------------------------------------------------------

# Java DateTimeFormatter letters Fineract clients use, longest first.
_JAVA_TOKENS = [
    ("yyyy", "%Y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("yy", "%y"),
    ("M", "%m"),
    ("d", "%d"),
]
_TOKEN_RE = re.compile("|".join(re.escape(t) for t, _ in _JAVA_TOKENS) + r"|'[^']*'|[A-Za-z]")


def java_to_strptime(pattern: str) -> str:
    mapping = dict(_JAVA_TOKENS)
    out: list[str] = []
    pos = 0
    for match in _TOKEN_RE.finditer(pattern):
        out.append(pattern[pos : match.start()].replace("%", "%%"))
        token = match.group(0)
        if token in mapping:
            out.append(mapping[token])
        elif token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%"))
        else:
            raise ValueError(f"unsupported dateFormat letter '{token}'")
        pos = match.end()
    out.append(pattern[pos:].replace("%", "%%"))
    return "".join(out)


def parse_date(value: Any, date_format: str | None, locale: str | None) -> date | None:
    """A Fineract date: ``[yyyy, M, d]``, ISO ``yyyy-MM-dd``, or a string in
    ``dateFormat``. Month names are read in English only."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, list):
        if len(value) != 3 or not all(isinstance(p, int) for p in value):
            raise ValueError("must be [year, month, day]")
        return date(value[0], value[1], value[2])
    if not isinstance(value, str):
        raise ValueError("must be a date")
    if not date_format:
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("must be yyyy-MM-dd, or send dateFormat and locale") from exc
    if "MMM" in date_format and locale and not locale.lower().startswith("en"):
        raise ValueError(f"month names are supported in English only, not locale '{locale}'")
    try:
        return datetime.strptime(value.strip(), java_to_strptime(date_format)).date()
    except ValueError as exc:
        raise ValueError(f"does not match dateFormat '{date_format}'") from exc
