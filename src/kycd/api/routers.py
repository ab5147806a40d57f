"""Every domain's router, in one list. Add a domain here, nowhere else."""

from __future__ import annotations

from fastapi import FastAPI


def include_routers(app: FastAPI) -> None:
    from kycd.customers.endpoints import router as customers
    from kycd.verification.endpoints import router as sessions

    for router in (customers, sessions):
        app.include_router(router)
