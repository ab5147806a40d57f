from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, HttpUrl, model_validator

from kycd.customers.models import CustomerType
from kycd.customers.schemas import StrictModel


class SessionCreate(StrictModel):
    """``POST /v1/sessions``: link the run to a customer by ``customer_id`` or by
    the tenant's own ``client_id``; an unknown ``client_id`` creates the customer."""

    customer_id: str | None = Field(default=None, max_length=36)
    client_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$"
    )
    customer_type: CustomerType = CustomerType.INDIVIDUAL
    level_name: str | None = Field(default=None, min_length=1, max_length=100)
    redirect_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> SessionCreate:
        if not self.customer_id and not self.client_id:
            raise ValueError("customer_id or client_id is required")
        return self


class SessionOut(BaseModel):
    id: str
    customer_id: str
    client_id: str
    level_name: str
    status: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    # Only in the answer to POST /v1/sessions: the token behind it is stored hashed.
    verification_url: str | None = None
