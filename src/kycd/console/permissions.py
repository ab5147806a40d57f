"""Who may do what in the console: a pure mapping from role to actions.

Roles are cumulative: a reviewer can do everything a viewer can, an admin
everything a reviewer can. Tenant isolation is not a permission: every query
is scoped by the operator's tenant and environment (see :func:`scopes_for`),
so another tenant's data is simply not found.
"""

from __future__ import annotations

from enum import StrEnum

from kycd.console.models import Role
from kycd.tenancy.scopes import Scope


class Action(StrEnum):
    VIEW = "view"  # dashboards, customers, timelines
    DECIDE = "decide"  # approve / reject steps, triage screening hits
    ASSIGN = "assign"  # take or hand over review-queue items
    MANAGE_CREDENTIALS = "manage_credentials"
    MANAGE_OPERATORS = "manage_operators"
    MANAGE_WEBHOOKS = "manage_webhooks"


_VIEWER = frozenset({Action.VIEW})
_REVIEWER = _VIEWER | {Action.DECIDE, Action.ASSIGN}
_ADMIN = _REVIEWER | {
    Action.MANAGE_CREDENTIALS,
    Action.MANAGE_OPERATORS,
    Action.MANAGE_WEBHOOKS,
}

ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _VIEWER,
    Role.REVIEWER: _REVIEWER,
    Role.ADMIN: _ADMIN,
}

# The API scopes an operator's requests carry into the services, so a service
# that checks ``ctx.has(Scope.REVIEW)`` treats a reviewer like a reviewing API key.
_SCOPES: dict[Role, frozenset[str]] = {
    Role.VIEWER: frozenset({Scope.READ.value}),
    Role.REVIEWER: frozenset({Scope.READ.value, Scope.UPDATE.value, Scope.REVIEW.value}),
    Role.ADMIN: frozenset(s.value for s in Scope),
}


def parse_role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def allowed(role: str, action: Action) -> bool:
    """Unknown roles may do nothing: a row with a bad role must not become admin."""
    parsed = parse_role(role)
    return parsed is not None and action in ALLOWED[parsed]


def scopes_for(role: str) -> frozenset[str]:
    parsed = parse_role(role)
    return _SCOPES[parsed] if parsed is not None else frozenset()
