from __future__ import annotations

from dataclasses import dataclass, field

from kycd.tenancy.scopes import Scope


@dataclass(frozen=True)
class RequestContext:
    """Who is calling, on whose data. Every query is scoped by this."""

    tenant_id: str
    environment: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    actor_type: str = "partner"
    actor_id: str | None = None

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes
