"""The console's permission rules, without a database."""

from __future__ import annotations

import pytest

from kycd.console.permissions import Action, allowed, scopes_for

A = Action
CASES = [
    # role, action, allowed?
    ("viewer", A.VIEW, True),
    ("viewer", A.DECIDE, False),
    ("viewer", A.ASSIGN, False),
    ("viewer", A.MANAGE_CREDENTIALS, False),
    ("viewer", A.MANAGE_OPERATORS, False),
    ("viewer", A.MANAGE_WEBHOOKS, False),
    ("reviewer", A.VIEW, True),
    ("reviewer", A.DECIDE, True),
    ("reviewer", A.ASSIGN, True),
    ("reviewer", A.MANAGE_CREDENTIALS, False),
    ("reviewer", A.MANAGE_OPERATORS, False),
    ("reviewer", A.MANAGE_WEBHOOKS, False),
    ("admin", A.VIEW, True),
    ("admin", A.DECIDE, True),
    ("admin", A.ASSIGN, True),
    ("admin", A.MANAGE_CREDENTIALS, True),
    ("admin", A.MANAGE_OPERATORS, True),
    ("admin", A.MANAGE_WEBHOOKS, True),
    # A corrupted or future role may do nothing at all.
    ("superuser", A.VIEW, False),
    ("", A.VIEW, False),
    ("ADMIN", A.MANAGE_OPERATORS, False),
]


@pytest.mark.parametrize(("role", "action", "expected"), CASES)
def test_role_allows_exactly_its_actions(role: str, action: Action, expected: bool) -> None:
    assert allowed(role, action) is expected


SCOPE_CASES = [
    ("viewer", {"kyc:read"}),
    ("reviewer", {"kyc:read", "kyc:update", "kyc:review"}),
    ("admin", {"kyc:read", "kyc:create", "kyc:update", "kyc:review", "kyc:admin"}),
    ("nobody", set()),
]


@pytest.mark.parametrize(("role", "scopes"), SCOPE_CASES)
def test_role_maps_to_api_scopes(role: str, scopes: set[str]) -> None:
    assert scopes_for(role) == scopes


def test_every_action_is_granted_to_admins_and_roles_are_cumulative() -> None:
    for action in Action:
        assert allowed("admin", action)
        if allowed("viewer", action):
            assert allowed("reviewer", action)
