"""The roster replica ends in the same state whatever order enrolment's facts about a trainer
arrive in, and however often each one comes (a redelivery after a failed ack)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from yts_chassis.database import Database
from yts_chassis.migrations import upgrade_async
from yts_contracts.enrolment import (
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
    WithdrawalReason,
)
from yts_contracts.envelope import from_nats, to_nats
from yts_contracts.event import EventData
from yts_sessions import roster
from yts_sessions.main import MIGRATIONS
from yts_sessions.store import RosterTrainer


@pytest.fixture
async def db(database_factory) -> AsyncIterator[Database]:
    url = await database_factory("sessions_roster")
    await upgrade_async(url, MIGRATIONS)
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()


def facts_about(trainer_id: uuid.UUID, school_id: uuid.UUID) -> list[EventData]:
    now = datetime.now(UTC)
    return [
        TrainerEnrolled(
            trainer_id=trainer_id,
            school_id=school_id,
            cohort_id=uuid.UUID(int=7),
            grade=9,
            gender="undisclosed",
            languages=["kk"],
            enrolled_at=now,
        ),
        TrainerWithdrawn(
            trainer_id=trainer_id,
            school_id=school_id,
            reason=WithdrawalReason.GRADUATED,
            withdrawn_at=now,
        ),
        TrainerErased(trainer_id=trainer_id, erased_at=now),
    ]


async def test_enrolled_withdrawn_and_erased_in_any_order_and_repeated_give_one_roster_row(
    db: Database,
) -> None:
    school_id = uuid.uuid4()
    finals = []
    for order in itertools.permutations(range(3)):
        trainer_id = uuid.uuid4()
        facts = facts_about(trainer_id, school_id)
        for index in [*order, *order]:
            envelope = to_nats(facts[index], source="/yts/enrolment", event_id=uuid.uuid4())
            event = from_nats(envelope.subject, envelope.headers, envelope.body)
            async with db.transaction() as session:
                await roster.ROSTER_HANDLERS[envelope.subject](session, event)
        async with db.session() as session:
            row = await session.get(RosterTrainer, trainer_id)
        assert row is not None
        finals.append(
            (
                row.school_id,
                row.cohort_id,
                row.grade,
                row.status,
                row.enrolled_at is not None,
                row.withdrawn_at is not None,
                row.erased_at is not None,
            )
        )

    assert set(finals) == {(school_id, uuid.UUID(int=7), 9, "withdrawn", True, True, True)}
