"""One shape for every paginated list of the HTTP APIs: ``?limit=&offset=`` in, ``Page`` out."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, description="items to skip")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="items matching the filters, on every page")
    limit: int
    offset: int
