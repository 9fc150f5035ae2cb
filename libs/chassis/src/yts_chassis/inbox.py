"""The inbox: an event id recorded per consumer in the same transaction as its effect, so that a
redelivered or re-published event changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yts_chassis.tables import MessagingTables


class Inbox:
    def __init__(self, tables: MessagingTables) -> None:
        self.table = tables.inbox

    async def seen(
        self, session: AsyncSession, consumer: str, event_ids: Iterable[str]
    ) -> set[str]:
        ids = list(event_ids)
        if not ids:
            return set()
        result = await session.execute(
            select(self.table.c.event_id).where(
                self.table.c.consumer == consumer, self.table.c.event_id.in_(ids)
            )
        )
        return set(result.scalars())

    async def record(
        self, session: AsyncSession, consumer: str, events: Iterable[tuple[str, str]]
    ) -> None:
        """Record (event id, type) pairs; the primary key makes a concurrent duplicate fail the
        transaction instead of applying twice."""
        now = datetime.now(UTC)
        rows = [
            {
                "consumer": consumer,
                "event_id": event_id,
                "event_type": event_type,
                "processed_at": now,
            }
            for event_id, event_type in events
        ]
        if rows:
            await session.execute(self.table.insert(), rows)
