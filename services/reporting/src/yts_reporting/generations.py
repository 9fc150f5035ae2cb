"""Generations of the read models: which one is served, which one a rebuild is building, the
switch-over, and how readers and writers pick theirs.

Every projected row carries a generation. One row of ``projection_generation`` (id 1) names
the *served* generation, and while a rebuild runs, the one being *built*:

- readers (requests) read the served generation, named once per snapshot (``served``);
- writers (the live consumers) apply each event to every generation being written: the served
  one and, during a rebuild, the new one too (``written``), so nothing published during the
  rebuild is missed; the rebuild's own replay writes only the new one (``write_only``);
- a rebuild ``claim``s the next generation (one at a time), then ``switch_over`` makes it the
  served one in one update; ``release`` gives a failed one up; ``retire`` deletes the rows of
  every generation but the served one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col
from yts_chassis.database import Database

from yts_reporting.store import PROJECTED_TABLES, ProjectionGeneration

# The generations a transaction writes, read once per transaction (see ``written``).
WRITTEN_KEY = "yts_reporting_generations"


class RebuildRefused(RuntimeError):
    """Another rebuild holds the claim (or took it over)."""


async def _generations(session: AsyncSession) -> tuple[int, int | None]:
    """(served, being built); before any rebuild, (1, None)."""
    row = (
        await session.execute(
            select(col(ProjectionGeneration.serving), col(ProjectionGeneration.building)).where(
                col(ProjectionGeneration.id) == 1
            )
        )
    ).first()
    return (int(row[0]), row[1]) if row is not None else (1, None)


async def served(session: AsyncSession) -> int:
    """The generation requests read."""
    serving, _ = await _generations(session)
    return serving


async def written(session: AsyncSession) -> tuple[int, ...]:
    """The generations this transaction writes: read once per transaction (a batch), so that a
    rebuild registered later is seen by the next batch. A rebuild presets its own."""
    cached = session.info.get(WRITTEN_KEY)
    if cached is not None:
        return tuple(cached)
    serving, building = await _generations(session)
    found = (serving,) if building is None or building == serving else (serving, building)
    session.info[WRITTEN_KEY] = found
    return found


def write_only(session: AsyncSession, generation: int) -> None:
    """This transaction writes ``generation`` alone (a rebuild's replay)."""
    session.info[WRITTEN_KEY] = (generation,)


def forget_written(session: Session) -> None:
    """After a rollback: the next transaction on this session reads its generations again."""
    session.info.pop(WRITTEN_KEY, None)


async def claim(db: Database, *, force: bool) -> tuple[int, int]:
    """Register the next generation as being built; returns (served, new)."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        row = await session.get(ProjectionGeneration, 1)
        if row is None:
            row = ProjectionGeneration(id=1, serving=1)
            session.add(row)
            await session.flush()
        serving, new = row.serving, row.serving + 1
        statement = (
            update(ProjectionGeneration)
            .where(col(ProjectionGeneration.id) == 1, col(ProjectionGeneration.serving) == serving)
            .values(building=new, building_since=now)
        )
        if not force:
            statement = statement.where(col(ProjectionGeneration.building).is_(None))
        claimed = await session.execute(statement)
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise RebuildRefused(
                f"a rebuild of generation {row.building} is running since {row.building_since}; "
                "wait for it, or pass --force if it died"
            )
    # Rows of an unfinished rebuild or of a retired generation: start from nothing.
    await retire(db, keep=serving)
    return serving, new


async def switch_over(db: Database, serving: int, new: int) -> None:
    """Serve ``new`` from now on (one update); refused if another rebuild took it over."""
    async with db.transaction() as session:
        switched = await session.execute(
            update(ProjectionGeneration)
            .where(col(ProjectionGeneration.id) == 1, col(ProjectionGeneration.building) == new)
            .values(serving=new, building=None, building_since=None, switched_at=datetime.now(UTC))
        )
        if switched.rowcount != 1:  # type: ignore[attr-defined]
            raise RebuildRefused(f"generation {new} was taken over by another rebuild")


async def release(db: Database, new: int) -> None:
    """Give up a failed rebuild: live consumers stop writing the new generation; drop it."""
    async with db.transaction() as session:
        await session.execute(
            update(ProjectionGeneration)
            .where(col(ProjectionGeneration.id) == 1, col(ProjectionGeneration.building) == new)
            .values(building=None, building_since=None)
        )
    await _delete(db, only=new)


async def retire(db: Database, *, keep: int) -> None:
    """Delete the rows of every generation but ``keep``."""
    await _delete(db, keep=keep)


async def _delete(db: Database, *, keep: int | None = None, only: int | None = None) -> None:
    async with db.transaction() as session:
        for table in PROJECTED_TABLES:
            generation = col(table.generation)  # type: ignore[attr-defined]
            condition = generation == only if only is not None else generation != keep
            await session.execute(delete(table).where(condition))
