"""The chassis database layer: reads that must agree with each other see one snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from yts_chassis.database import Database


async def test_a_snapshot_does_not_see_what_is_committed_while_it_reads(
    database_factory: Callable[[str], Any],
) -> None:
    db = Database(await database_factory("snapshot"))
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE counted (id INTEGER PRIMARY KEY)"))
            await session.execute(text("INSERT INTO counted (id) VALUES (1)"))

        async with db.snapshot() as reader:
            first = (await reader.execute(text("SELECT count(*) FROM counted"))).scalar_one()
            async with db.transaction() as writer:
                await writer.execute(text("INSERT INTO counted (id) VALUES (2)"))
            second = (await reader.execute(text("SELECT count(*) FROM counted"))).scalar_one()
        async with db.snapshot() as reader:
            after = (await reader.execute(text("SELECT count(*) FROM counted"))).scalar_one()
    finally:
        await db.dispose()

    assert (first, second) == (1, 1), "a second figure of the same page saw a later commit"
    assert after == 2


class Base(DeclarativeBase):
    pass


class Counted(Base):
    __tablename__ = "counted_entities"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str]


async def test_entities_read_in_a_snapshot_stay_readable_after_it_ends(
    database_factory: Callable[[str], Any],
) -> None:
    db = Database(await database_factory("snapshot_entities"))
    try:
        async with db.transaction() as session:
            await session.run_sync(lambda sync: Base.metadata.create_all(sync.connection()))
            session.add(Counted(id=1, label="School No. 12"))

        async with db.snapshot() as reader:
            (found,) = (await reader.execute(select(Counted))).scalars()
    finally:
        await db.dispose()

    # A list route builds its response after the snapshot is over.
    assert found.label == "School No. 12"
