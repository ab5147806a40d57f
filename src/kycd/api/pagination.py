"""Page-number pagination, the same on every list endpoint.

Query: ``page`` (1-based, default 1) and ``page_size`` (1..100, default 20).
Response: ``{"data": [...], "pagination": {"page", "page_size", "total",
"total_pages"}}``. Items are ordered newest first, ties broken by id, so a page
is stable while nothing is inserted.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")


class PageParams(BaseModel):
    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


class PageInfo(BaseModel):
    page: int
    page_size: int
    total: int
    total_pages: int


class Page(BaseModel, Generic[T]):
    data: list[T]
    pagination: PageInfo

    @classmethod
    def build(cls, items: list[T], params: PageParams, total: int) -> Page[T]:
        pages = (total + params.page_size - 1) // params.page_size
        return cls(
            data=items,
            pagination=PageInfo(
                page=params.page, page_size=params.page_size, total=total, total_pages=pages
            ),
        )
