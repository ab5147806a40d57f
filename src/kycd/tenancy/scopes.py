"""The permission vocabulary. Every route names the one scope it needs."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "kyc:read"
    CREATE = "kyc:create"
    UPDATE = "kyc:update"
    REVIEW = "kyc:review"
    ADMIN = "kyc:admin"


ALL_SCOPES = [s.value for s in Scope]


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"
