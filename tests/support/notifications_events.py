"""Publishing contract events straight to the real JetStream, as their producers would, for the
notifications tests (the sessions service is built elsewhere; enrolment runs in the e2e test)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from nats.js.client import JetStreamContext
from yts_chassis.ids import new_id
from yts_contracts.enrolment import CohortOpened, SchoolRegistered, TrainerEnrolled
from yts_contracts.envelope import to_nats
from yts_contracts.event import EventData
from yts_contracts.milestones import MilestoneKind, MilestoneReached, SubjectType, milestone_id
from yts_contracts.private import SchoolContact
from yts_contracts.sessions import CancellationReason, SessionCancelled, SessionCompleted


async def publish(
    js: JetStreamContext,
    data: EventData,
    *,
    event_id: uuid.UUID | None = None,
    msg_id: str | None = None,
    source: str = "/yts/test",
) -> str:
    """Publish one event; ``msg_id`` other than the event id gets a repeat past the server's
    duplicate window (what a producer crashing before its outbox mark could cause)."""
    envelope = to_nats(data, source=source, event_id=event_id or new_id())
    headers = dict(envelope.headers)
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    ack = await js.publish(envelope.subject, envelope.body, headers=headers)
    assert not ack.duplicate or msg_id is None
    return envelope.event_id


def school(school_id: uuid.UUID, name: str) -> SchoolRegistered:
    return SchoolRegistered(
        school_id=school_id,
        name=name,
        district="Almaly",
        languages=["kk", "ru"],
        registered_at=datetime.now(UTC),
    )


def contact(school_id: uuid.UUID, email: str, locale: str = "en", **changes: Any) -> SchoolContact:
    values: dict[str, Any] = {
        "school_id": school_id,
        "coordinator_name": "Aigerim Sadykova",
        "email": email,
        "locale": locale,
    }
    values.update(changes)
    return SchoolContact(**values)


def cohort(cohort_id: uuid.UUID | None = None) -> CohortOpened:
    return CohortOpened(
        cohort_id=cohort_id or new_id(),
        name="2026-2027",
        starts_on=date(2026, 8, 15),
        ends_on=date(2027, 6, 30),
    )


def enrolled(
    trainer_id: uuid.UUID, school_id: uuid.UUID, grade: int = 10, **changes: Any
) -> TrainerEnrolled:
    values: dict[str, Any] = {
        "trainer_id": trainer_id,
        "school_id": school_id,
        "cohort_id": new_id(),
        "grade": grade,
        "gender": "female",
        "languages": ["kk"],
        "enrolled_at": datetime(2026, 9, 14, 9, 30, tzinfo=UTC),
    }
    values.update(changes)
    return TrainerEnrolled(**values)


def milestone(
    kind: MilestoneKind,
    subject_id: uuid.UUID | None,
    evidence: dict[str, int] | None = None,
    reached_at: datetime | None = None,
) -> MilestoneReached:
    subject_type = kind.subject_type
    return MilestoneReached(
        milestone_id=milestone_id(kind, subject_type, subject_id),
        kind=kind,
        subject={
            "type": subject_type.value,
            "id": None if subject_type is SubjectType.PROGRAMME else subject_id,
        },
        reached_at=reached_at or datetime(2026, 11, 2, 12, 0, tzinfo=UTC),
        evidence=evidence or {"core_modules_completed": 6},
        caused_by=new_id(),
    )


def session_completed(
    school_id: uuid.UUID,
    delivered_on: date,
    participants: int,
    rating: float | None = 4.5,
    responses: int = 10,
) -> SessionCompleted:
    return SessionCompleted(
        session_id=new_id(),
        school_id=school_id,
        facilitator_ids=[new_id()],
        topic_module_id="intercultural-communication",  # a module of the curriculum
        language="kk",
        delivered_on=delivered_on,
        duration_minutes=45,
        participants={"total": participants, "female": 0, "male": 0, "by_grade": {}},
        feedback={
            "responses": responses if rating is not None else 0,
            "average_rating": rating,
        },
    )


def session_cancelled(school_id: uuid.UUID, cancelled_at: datetime) -> SessionCancelled:
    return SessionCancelled(
        session_id=new_id(),
        school_id=school_id,
        reason=CancellationReason.SCHOOL_CLOSURE,
        cancelled_at=cancelled_at,
    )
