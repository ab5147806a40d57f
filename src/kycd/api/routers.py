"""Every domain's router, in one list. Add a domain's endpoints module to
:data:`ENDPOINT_MODULES`, nowhere else; each module exposes ``router``."""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI

# Starlette tries routes in order, and each miss costs a regex match: the
# hottest reads come first (the compliance status, polled by integrators; the
# customer). Their paths overlap no other domain's, so the order changes nothing else.
ENDPOINT_MODULES = (
    "kycd.compliance.endpoints",
    "kycd.customers.endpoints",
    "kycd.verification.endpoints",
    "kycd.organization.endpoints",
    "kycd.risk.endpoints",
    "kycd.checks.endpoints",
    "kycd.lifecycle.endpoints",
    "kycd.identifiers.endpoints",
    "kycd.documents.endpoints",
    "kycd.console.endpoints",
    "kycd.webhooks.endpoints",
    "kycd.screening.endpoints",
    "kycd.hosted.endpoints",
    "kycd.hosted.api",
)


def include_routers(app: FastAPI) -> None:
    for module_name in ENDPOINT_MODULES:
        router: APIRouter = importlib.import_module(module_name).router
        app.include_router(router)
