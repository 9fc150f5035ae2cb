"""The migration to reason codes: a sentence already stored as a cancellation's reason moves to
the private note and the reason becomes ``other`` (as consumers read the old events), codes stay
as they are, and a rollback puts the sentence back where the previous release reads it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command
from yts_chassis.database import Database
from yts_chassis.migrations import alembic_config, upgrade_async
from yts_sessions.main import MIGRATIONS

BEFORE_CODES = "638487111929"
NOW = datetime(2025, 2, 5, 7, 10, tzinfo=UTC)
SENTENCE = "Aruzhan Abenova was ill."

peer_sessions = sa.table(
    "peer_sessions",
    sa.column("id", sa.Uuid()),
    sa.column("school_id", sa.Uuid()),
    sa.column("topic_module_id", sa.String()),
    sa.column("language", sa.String()),
    sa.column("planned_on", sa.Date()),
    sa.column("status", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("cancellation_reason", sa.String()),
    sa.column("cancelled_at", sa.DateTime(timezone=True)),
)


async def cancellations(db: Database, *columns: str) -> dict[uuid.UUID, tuple]:
    table = sa.table("peer_sessions", sa.column("id", sa.Uuid()), *map(sa.column, columns))
    async with db.session() as session:
        rows = (await session.execute(sa.select(table))).all()
    return {row[0]: tuple(row[1:]) for row in rows}


async def test_a_stored_sentence_becomes_the_private_note_and_the_reason_other(
    database_factory,
) -> None:
    url = await database_factory("sessions_reason_codes")
    await upgrade_async(url, MIGRATIONS, revision=BEFORE_CODES)
    with_sentence, with_code, planned = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    db = Database(url)
    try:
        async with db.transaction() as session:
            for session_id, status, reason in (
                (with_sentence, "cancelled", SENTENCE),
                (with_code, "cancelled", "weather"),
                (planned, "planned", None),
            ):
                await session.execute(
                    peer_sessions.insert().values(
                        id=session_id,
                        school_id=uuid.uuid4(),
                        topic_module_id="culture-and-identity",
                        language="kk",
                        planned_on=date(2025, 2, 6),
                        status=status,
                        created_at=NOW,
                        cancellation_reason=reason,
                        cancelled_at=NOW if reason else None,
                    )
                )

        await upgrade_async(url, MIGRATIONS)

        assert await cancellations(db, "cancellation_reason", "cancellation_note") == {
            with_sentence: ("other", SENTENCE),
            with_code: ("weather", None),
            planned: (None, None),
        }

        await asyncio.to_thread(command.downgrade, alembic_config(url, MIGRATIONS), BEFORE_CODES)

        assert await cancellations(db, "cancellation_reason") == {
            with_sentence: (SENTENCE,),
            with_code: ("weather",),
            planned: (None,),
        }
    finally:
        await db.dispose()
