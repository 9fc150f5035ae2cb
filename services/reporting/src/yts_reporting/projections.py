"""How each event changes the read models.

Rules that keep the numbers right whatever the delivery does:
- every write is an upsert keyed by the fact's natural id (school, trainer, session, milestone),
  and each event writes only the columns it knows, so a duplicate (same or new ``ce-id``), a
  redelivery, or events of different streams in either order give the same rows;
- nothing is dropped because something it refers to is not known yet: a session of a school
  whose ``school.registered`` has not arrived is kept and joins its district when it does;
- a cancelled session never counts, whether the cancellation comes before or after its
  completion (the sessions service's last word on it);
- erasure keeps the anonymous categories (that is all reporting holds) so counts stay right;
- an enrolment counts on the day it took effect (``enrolled_on``), a withdrawal likewise
  (``withdrawn_on``), not the day the record was typed; an older event without those fields
  took effect on the programme's day of its ``enrolled_at`` (``withdrawn_at``).

Handlers apply an event to every generation being written: the served one, and the one a
rebuild is filling; the rebuild's replay writes only the new one (see ``generations.py``).
Which ones is read once per transaction, when it stages its first write.

Writes are staged per transaction (``Writes``) and sent when it commits, one executemany per
kind of row: a batch of 500 events costs a handful of statements instead of 1,500, which is
what makes a replay of the whole history fast. Staging may regroup writes across kinds, which
is safe because every write commutes with the others (the rules above).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from yts_chassis.consumer import EventHandler
from yts_chassis.database import Database, upsert_statement
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.envelope import EventData, ReceivedEvent
from yts_contracts.milestones import MilestoneReached
from yts_contracts.sessions import ModuleCompleted, SessionCancelled, SessionCompleted

from yts_reporting.generations import forget_written, written
from yts_reporting.store import (
    ProjectedCohort,
    ProjectedMilestone,
    ProjectedModuleCompletion,
    ProjectedSchool,
    ProjectedSession,
    ProjectedSessionFacilitator,
    ProjectedSessionPeers,
    ProjectedTrainer,
)

Apply = Callable[["Writes", Any], None]

WRITES_KEY = "yts_reporting_writes"


@dataclass
class _Rows:
    table: Any
    key: tuple[str, ...]  # the natural key (the generation comes on top)
    update: tuple[str, ...] | None  # None: every other column; (): do nothing on conflict
    rows: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)


class Writes:
    """Upserts staged by one transaction for the generations it writes, sent at its commit
    (see ``_send_staged_writes``): the rows once, each written to every generation."""

    def __init__(self, generations: tuple[int, ...]) -> None:
        self.generations = generations
        self.groups: dict[tuple[Any, ...], _Rows] = {}

    def upsert(
        self,
        table: Any,
        values: dict[str, Any],
        key: tuple[str, ...],
        update: tuple[str, ...] | None = None,
    ) -> None:
        """INSERT ... ON CONFLICT (generation, key) DO UPDATE the ``update`` columns (all
        others when None) or DO NOTHING (``()``)."""
        shape = (table, key, update, *values)
        group = self.groups.get(shape)
        if group is None:
            group = self.groups[shape] = _Rows(table, key, update)
        ident = tuple([values[k] for k in key])
        if len(self.generations) == 1:
            # The common case: the row is sent as it is, with its one generation.
            values["generation"] = self.generations[0]
        if update == ():
            group.rows.setdefault(ident, values)  # the first one stays
        else:
            group.rows.pop(ident, None)
            group.rows[ident] = values  # as if applied in order: the last one wins

    def send(self, session: Session) -> None:
        for group in self.groups.values():
            first = next(iter(group.rows.values()))
            key = ("generation", *group.key)
            columns = [c for c in first if c not in key] if group.update is None else group.update
            rows = list(group.rows.values())
            if len(self.generations) > 1:
                rows = [{**values, "generation": g} for g in self.generations for values in rows]
            session.execute(upsert_statement(session, group.table, key, columns), rows)
        self.groups.clear()


async def staged(session: AsyncSession) -> Writes:
    """This transaction's writes; the generations it writes are read once, on its first."""
    writes = session.info.get(WRITES_KEY)
    if writes is None:
        writes = session.info[WRITES_KEY] = Writes(await written(session))
    return writes


def _send_staged_writes(session: Session) -> None:
    writes = session.info.pop(WRITES_KEY, None)
    if writes is not None:
        writes.send(session)


def _drop_staged_writes(session: Session) -> None:
    session.info.pop(WRITES_KEY, None)
    forget_written(session)


class Projections:
    """The handlers of every event reporting reads, for a programme time zone, writing to
    ``db``: the writes a transaction staged go out when it commits, and are dropped when it
    rolls back."""

    def __init__(self, zone: ZoneInfo, db: Database) -> None:
        self.zone = zone
        db.before_commit(_send_staged_writes)
        db.after_rollback(_drop_staged_writes)

    def day(self, moment: datetime) -> date:
        """The programme's calendar day of a moment (an enrolment at 23:30 UTC in Almaty is
        the next day)."""
        return moment.astimezone(self.zone).date()

    # -- enrolment ------------------------------------------------------------------------

    def school_registered(self, writes: Writes, data: SchoolRegistered) -> None:
        writes.upsert(
            ProjectedSchool,
            {
                "school_id": data.school_id,
                "name": data.name,
                "district": data.district.value,
                "registered_at": data.registered_at,
            },
            key=("school_id",),
        )

    def cohort_opened(self, writes: Writes, data: CohortOpened) -> None:
        writes.upsert(
            ProjectedCohort,
            {
                "cohort_id": data.cohort_id,
                "name": data.name,
                "starts_on": data.starts_on,
                "ends_on": data.ends_on,
            },
            key=("cohort_id",),
        )

    def trainer_enrolled(self, writes: Writes, data: TrainerEnrolled) -> None:
        writes.upsert(
            ProjectedTrainer,
            {
                "trainer_id": data.trainer_id,
                "school_id": data.school_id,
                "cohort_id": data.cohort_id,
                "grade": data.grade,
                "gender": data.gender.value,
                "enrolled_at": data.enrolled_at,
                # The day it took effect (a paper record is entered later), not the day typed.
                "enrolled_on": data.enrolled_day(self.zone),
            },
            key=("trainer_id",),
        )

    def trainer_withdrawn(self, writes: Writes, data: TrainerWithdrawn) -> None:
        # The withdrawal names the school too, so a withdrawal seen first still counts there.
        writes.upsert(
            ProjectedTrainer,
            {
                "trainer_id": data.trainer_id,
                "school_id": data.school_id,
                "withdrawn_at": data.withdrawn_at,
                "withdrawn_on": data.withdrawn_day(self.zone),
                "withdrawal_reason": data.reason.value,
            },
            key=("trainer_id",),
            update=("withdrawn_at", "withdrawn_on", "withdrawal_reason"),
        )

    def trainer_erased(self, writes: Writes, data: TrainerErased) -> None:
        # Reporting holds only categories: the tombstone keeps them, so the counts stay right.
        writes.upsert(
            ProjectedTrainer,
            {"trainer_id": data.trainer_id, "erased_at": data.erased_at},
            key=("trainer_id",),
            update=("erased_at",),
        )

    # -- sessions -------------------------------------------------------------------------

    def module_completed(self, writes: Writes, data: ModuleCompleted) -> None:
        writes.upsert(
            ProjectedModuleCompletion,
            {
                "trainer_id": data.trainer_id,
                "module_id": data.module_id,
                "school_id": data.school_id,
                "completed_on": data.completed_on,
            },
            key=("trainer_id", "module_id"),
            update=(),
        )

    def session_completed(self, writes: Writes, data: SessionCompleted) -> None:
        completion = {
            "school_id": data.school_id,
            "topic_module_id": data.topic_module_id,
            "language": data.language,
            "delivered_on": data.delivered_on,
            "duration_minutes": data.duration_minutes,
            "participants": data.participants.total,
            "participants_female": data.participants.female,
            "participants_male": data.participants.male,
            "feedback_responses": data.feedback.responses,
            "average_rating": data.feedback.average_rating,
        }
        # Only the completion's columns: a cancellation already recorded stays.
        writes.upsert(
            ProjectedSession,
            {"session_id": data.session_id, **completion},
            key=("session_id",),
            update=tuple(completion),
        )
        for trainer in data.facilitator_ids:
            writes.upsert(
                ProjectedSessionFacilitator,
                {"session_id": data.session_id, "trainer_id": trainer},
                key=("session_id", "trainer_id"),
                update=(),
            )
        for grade, count in sorted(data.participants.by_grade.items()):
            if count > 0:
                writes.upsert(
                    ProjectedSessionPeers,
                    {
                        "session_id": data.session_id,
                        "grade": int(grade),
                        "participants": count,
                    },
                    key=("session_id", "grade"),
                )

    def session_cancelled(self, writes: Writes, data: SessionCancelled) -> None:
        writes.upsert(
            ProjectedSession,
            {
                "session_id": data.session_id,
                "school_id": data.school_id,
                "cancelled_at": data.cancelled_at,
                "cancelled_on": self.day(data.cancelled_at),
            },
            key=("session_id",),
            update=("cancelled_at", "cancelled_on"),
        )

    # -- milestones -----------------------------------------------------------------------

    def milestone_reached(self, writes: Writes, data: MilestoneReached) -> None:
        # Each milestone is reached once: its id is derived from kind and subject, so a repeat
        # (even under a new ce-id) is the same row and the first one stays.
        writes.upsert(
            ProjectedMilestone,
            {
                "milestone_id": data.milestone_id,
                "kind": data.kind.value,
                "subject_type": data.subject.type.value,
                "subject_id": data.subject.id,
                "reached_at": data.reached_at,
                "reached_on": self.day(data.reached_at),
            },
            key=("milestone_id",),
            update=(),
        )

    # -- wiring ---------------------------------------------------------------------------

    def appliers(self) -> dict[type[EventData], Apply]:
        return {
            SchoolRegistered: self.school_registered,
            CohortOpened: self.cohort_opened,
            TrainerEnrolled: self.trainer_enrolled,
            TrainerWithdrawn: self.trainer_withdrawn,
            TrainerErased: self.trainer_erased,
            ModuleCompleted: self.module_completed,
            SessionCompleted: self.session_completed,
            SessionCancelled: self.session_cancelled,
            MilestoneReached: self.milestone_reached,
        }

    def handlers(self, *event_types: type[EventData]) -> dict[str, EventHandler]:
        """Chassis handlers ``(session, event)`` for the given event types, each applying the
        event to every generation being written."""
        appliers = self.appliers()
        return {kind.event_type: _each_generation(appliers[kind]) for kind in event_types}


def _each_generation(apply: Apply) -> EventHandler:
    async def handler(session: AsyncSession, event: ReceivedEvent) -> None:
        apply(await staged(session), event.data)

    handler.__name__ = getattr(apply, "__name__", "handler")
    return handler
