"""One shape for every paginated list of the HTTP APIs: ``?limit=&offset=`` in, ``Page`` out;
``page`` reads one page of rows and the total from the database (in a ``Database.snapshot()``
the two agree)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

MAX_OFFSET = 1_000_000
"""Far past the end of any list the programme keeps, and well inside the 64-bit integer every
database driver takes: a larger offset is refused as bad input instead of failing in the
driver (a 500)."""

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="items matching the filters, on every page")
    limit: int
    offset: int


@dataclass(frozen=True)
class Slice(Generic[T]):
    """A page of rows as read, with how many match in all."""

    items: list[T]
    total: int


async def count(session: AsyncSession, query: Select[Any]) -> int:
    """How many rows ``query`` matches."""
    return int(
        (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    )


async def page(
    session: AsyncSession, query: Select[Any], order: Sequence[Any], limit: int, offset: int
) -> Slice[Any]:
    """The ``limit`` entities of ``query`` after ``offset`` in ``order``, and the total."""
    total = await count(session, query)
    rows = await session.execute(query.order_by(*order).limit(limit).offset(offset))
    return Slice(items=list(rows.scalars()), total=total)
