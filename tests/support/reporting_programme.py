"""A realistic, generated Young Trainers' School programme for reporting's tests: 35 schools in
Almaty's 8 districts, two cohorts, hundreds of trainers, thousands of peer sessions, the
milestones the sessions service would publish, with withdrawals, erasures and cancellations
(including cancellations of completed sessions and cancellations published first).

The generator knows every fact it made, so ``Programme.expected`` counts each indicator from
them directly (a reference independent of reporting's SQL), for any period, filters and
breakdown row, following the definitions documented in ``yts_reporting.indicators``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
from fastapi import FastAPI
from nats.js.client import JetStreamContext
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.envelope import MSG_ID_HEADER, to_nats
from yts_contracts.event import EventData
from yts_contracts.milestones import (
    MilestoneKind,
    MilestoneReached,
    MilestoneSubject,
    SubjectType,
    milestone_id,
)
from yts_contracts.sessions import (
    CancellationReason,
    Feedback,
    ModuleCompleted,
    Participants,
    SessionCancelled,
    SessionCompleted,
)
from yts_contracts.vocabulary import District
from yts_reporting.subscriptions import CONSUMERS

from tests.support.services import eventually, running

ZONE = ZoneInfo("Asia/Almaty")
DISTRICTS = [d.value for d in District]
CORE_MODULES = (
    "culture-and-identity",
    "stereotypes-and-prejudice",
    "intercultural-communication",
    "dialogue-and-conflict-transformation",
    "facilitation-and-peer-methods",
    "designing-a-peer-session",
)
MEASURES = (
    "schools_participating",
    "trainers_enrolled",
    "trainers_certified",
    "trainers_active",
    "trainers_withdrawn",
    "sessions_delivered",
    "peer_participations",
    "milestones_reached",
)
SOURCE = "/tests/reporting-programme"


def day_of(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


@dataclass
class School:
    id: uuid.UUID
    name: str
    district: str
    registered_at: datetime


@dataclass
class Cohort:
    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date


@dataclass
class Trainer:
    id: uuid.UUID
    school: uuid.UUID
    cohort: uuid.UUID
    grade: int
    gender: str
    enrolled_at: datetime  # when the enrolment took effect
    certified_at: datetime | None = None
    withdrawn_at: datetime | None = None  # when the withdrawal took effect
    erased_at: datetime | None = None
    # How long after it took effect each record was typed: None, an event of the kind
    # published before enrolled_on/withdrawn_on existed (typed when it happened); a timedelta,
    # an event with the day it took effect (a paper record typed later when positive).
    enrolment_typed_after: timedelta | None = None
    withdrawal_typed_after: timedelta | None = None


@dataclass
class PeerSession:
    id: uuid.UUID
    school: uuid.UUID
    facilitators: list[uuid.UUID]
    delivered_on: date | None  # None: planned, then cancelled, never completed
    total: int = 0
    female: int = 0
    male: int = 0
    by_grade: dict[int, int] = field(default_factory=dict)
    responses: int = 0
    rating_sum: float = 0  # sum of the ratings (average x responses, as published)
    cancelled_at: datetime | None = None

    @property
    def delivered(self) -> bool:
        return self.delivered_on is not None and self.cancelled_at is None


@dataclass
class Milestone:
    id: uuid.UUID
    kind: str
    subject_type: str
    subject_id: uuid.UUID | None
    reached_at: datetime


@dataclass
class Programme:
    schools: list[School]
    cohorts: list[Cohort]
    trainers: list[Trainer]
    sessions: list[PeerSession]
    milestones: list[Milestone]
    enrolment_events: list[tuple[EventData, str]]
    session_events: list[tuple[EventData, str]]
    milestone_events: list[tuple[EventData, str]]

    def __post_init__(self) -> None:
        self.school_by_id = {s.id: s for s in self.schools}
        self.trainer_by_id = {t.id: t for t in self.trainers}

    @property
    def events(self) -> list[tuple[EventData, str]]:
        return self.enrolment_events + self.session_events + self.milestone_events

    # -- the reference count ----------------------------------------------------------------

    def expected(
        self,
        *,
        start: date | None = None,
        end: date | None = None,
        district: str | None = None,
        school: uuid.UUID | None = None,
        cohort: uuid.UUID | None = None,
        grade: int | None = None,
        gender: str | None = None,
    ) -> dict[str, Any]:
        """Every indicator of the programme under these filters, counted from the facts."""

        def in_period(day: date | None) -> bool:
            return (
                day is not None and (start is None or day >= start) and (end is None or day <= end)
            )

        def school_ok(school_id: uuid.UUID | None) -> bool:
            if school is None and district is None:
                return True
            if school_id is None:
                return False
            return (school is None or school_id == school) and (
                district is None or self.school_by_id[school_id].district == district
            )

        on_trainers = cohort is not None or grade is not None or gender is not None

        def trainer_ok(trainer: Trainer | None) -> bool:
            if not on_trainers:
                return True
            return (
                trainer is not None
                and (cohort is None or trainer.cohort == cohort)
                and (grade is None or trainer.grade == grade)
                and (gender is None or trainer.gender == gender)
            )

        enrolled = [
            t
            for t in self.trainers
            if in_period(day_of(t.enrolled_at)) and school_ok(t.school) and trainer_ok(t)
        ]
        withdrawn = [
            t
            for t in self.trainers
            if t.withdrawn_at is not None
            and in_period(day_of(t.withdrawn_at))
            and school_ok(t.school)
            and trainer_ok(t)
        ]
        delivered = [
            s
            for s in self.sessions
            if s.delivered and in_period(s.delivered_on) and school_ok(s.school)
        ]
        sessions = [
            s for s in delivered if any(trainer_ok(self.trainer_by_id[f]) for f in s.facilitators)
        ]
        active = {f for s in delivered for f in s.facilitators if trainer_ok(self.trainer_by_id[f])}
        certified = 0
        milestones = 0
        for m in self.milestones:
            if not in_period(day_of(m.reached_at)):
                continue
            trainer = (
                self.trainer_by_id.get(m.subject_id)
                if m.subject_type == "trainer" and m.subject_id is not None
                else None
            )
            school_of = (
                m.subject_id
                if m.subject_type == "school"
                else trainer.school
                if trainer is not None
                else None
            )
            if not school_ok(school_of) or not trainer_ok(trainer):
                continue
            milestones += 1
            certified += m.kind == MilestoneKind.TRAINER_CERTIFIED.value
        responses = sum(s.responses for s in sessions)
        by_grade: dict[str, int] = {}
        for s in sessions:
            for g, n in s.by_grade.items():
                if n:
                    by_grade[str(g)] = by_grade.get(str(g), 0) + n
        total = sum(s.total for s in sessions)
        female = sum(s.female for s in sessions)
        male = sum(s.male for s in sessions)
        return {
            "schools_participating": len(
                {t.school for t in enrolled} | {s.school for s in sessions}
            ),
            "trainers_enrolled": len(enrolled),
            "trainers_certified": certified,
            "trainers_active": len(active),
            "trainers_withdrawn": len(withdrawn),
            "sessions_delivered": len(sessions),
            "peer_participations": total,
            "peers_female": female,
            "peers_male": male,
            "peers_unstated": total - female - male,
            "peers_by_grade": dict(sorted(by_grade.items(), key=lambda kv: int(kv[0]))),
            "feedback_responses": responses,
            "average_rating": round(sum(s.rating_sum for s in sessions) / responses, 2)
            if responses
            else None,
            "milestones_reached": milestones,
        }

    def months(self) -> list[str]:
        """Every month from the first fact to the last."""
        days = [day_of(t.enrolled_at) for t in self.trainers]
        days += [day_of(t.withdrawn_at) for t in self.trainers if t.withdrawn_at]
        days += [s.delivered_on for s in self.sessions if s.delivered and s.delivered_on]
        days += [day_of(m.reached_at) for m in self.milestones]
        first, last = min(days), max(days)
        months, year, month = [], first.year, first.month
        while (year, month) <= (last.year, last.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    @staticmethod
    def month_bounds(month: str) -> tuple[date, date]:
        first = date(int(month[:4]), int(month[5:7]), 1)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, following - timedelta(days=1)


# -- the generator ---------------------------------------------------------------------------


def generate(
    *,
    schools: int = 35,
    trainers_per_school: int = 10,
    sessions: int = 2000,
    seed: int = 2023,
) -> Programme:
    rng = random.Random(seed)

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    def event_id() -> str:
        return str(new_id())

    cohorts = [
        Cohort(new_id(), "2023-2024", date(2023, 9, 1), date(2024, 5, 31)),
        Cohort(new_id(), "2024-2025", date(2024, 9, 1), date(2025, 5, 31)),
    ]
    school_rows: list[School] = []
    for index in range(schools):
        kind = rng.choice(["School-Lyceum", "School-Gymnasium", "Secondary School"])
        school_rows.append(
            School(
                new_id(),
                f"{kind} No. {index * 4 + 7}",
                DISTRICTS[index % len(DISTRICTS)],
                at_local(date(2023, 8, 10) + timedelta(days=index % 15), 10),
            )
        )
    enrolment: list[tuple[EventData, str]] = [
        (
            CohortOpened(cohort_id=c.id, name=c.name, starts_on=c.starts_on, ends_on=c.ends_on),
            event_id(),
        )
        for c in cohorts
    ]
    for sc in school_rows:
        enrolment.append(
            (
                SchoolRegistered(
                    school_id=sc.id,
                    name=sc.name,
                    district=District(sc.district),
                    languages=["kk", "ru"],
                    registered_at=sc.registered_at,
                ),
                event_id(),
            )
        )

    trainers: list[Trainer] = []
    session_events: list[tuple[EventData, str]] = []
    milestones: list[Milestone] = []
    for sc in school_rows:
        for index in range(trainers_per_school):
            cohort = cohorts[index % 2]
            # Some enrolments late in the evening UTC: the next day in Almaty.
            enrolled = at_local(cohort.starts_on + timedelta(days=rng.randint(0, 30)), 9) + (
                timedelta(hours=rng.choice([0, 2, 5, 14, 19]))
            )
            trainer = Trainer(
                new_id(),
                sc.id,
                cohort.id,
                rng.choice([9, 10, 11]),
                rng.choices(["female", "male", "undisclosed"], weights=[55, 40, 5])[0],
                enrolled,
            )
            trainers.append(trainer)
            done = (
                list(CORE_MODULES)
                if rng.random() < 0.8
                else rng.sample(list(CORE_MODULES), rng.randint(1, len(CORE_MODULES) - 1))
            )
            completed_on = day_of(enrolled)
            for module in done:
                completed_on += timedelta(days=rng.randint(3, 9))
                session_events.append(
                    (
                        ModuleCompleted(
                            trainer_id=trainer.id,
                            school_id=sc.id,
                            module_id=module,
                            completed_on=completed_on,
                        ),
                        event_id(),
                    )
                )
            if len(done) == len(CORE_MODULES):
                trainer.certified_at = at_local(completed_on, 15)
                milestones.append(
                    Milestone(
                        milestone_id(
                            MilestoneKind.TRAINER_CERTIFIED, SubjectType.TRAINER, trainer.id
                        ),
                        MilestoneKind.TRAINER_CERTIFIED.value,
                        "trainer",
                        trainer.id,
                        trainer.certified_at,
                    )
                )
            if rng.random() < 0.08:
                trainer.withdrawn_at = enrolled + timedelta(days=rng.randint(60, 200), hours=3)
                if rng.random() < 0.35:
                    trainer.erased_at = trainer.withdrawn_at + timedelta(days=rng.randint(1, 20))
            elif rng.random() < 0.01:
                trainer.erased_at = enrolled + timedelta(days=rng.randint(100, 200))

    # Older events without the day they took effect, newer ones with it, and records kept on
    # paper typed weeks later (a generator of its own: the programme's facts stay as they were).
    paper = random.Random(seed + 1)

    def typed_after() -> timedelta | None:
        roll = paper.random()
        if roll < 0.4:
            return None
        return timedelta(0) if roll < 0.7 else timedelta(days=paper.randint(20, 75), hours=2)

    for t in trainers:
        t.enrolment_typed_after = typed_after()
        if t.withdrawn_at is not None:
            t.withdrawal_typed_after = typed_after() if t.erased_at is None else timedelta(0)
    for t in trainers:
        enrolment.append(
            (
                TrainerEnrolled(
                    trainer_id=t.id,
                    school_id=t.school,
                    cohort_id=t.cohort,
                    grade=t.grade,
                    gender=t.gender,
                    languages=["kk"],
                    enrolled_at=t.enrolled_at + (t.enrolment_typed_after or timedelta(0)),
                    enrolled_on=None if t.enrolment_typed_after is None else day_of(t.enrolled_at),
                ),
                event_id(),
            )
        )
    for t in sorted(trainers, key=lambda t: t.withdrawn_at or t.enrolled_at):
        if t.withdrawn_at is not None:
            enrolment.append(
                (
                    TrainerWithdrawn(
                        trainer_id=t.id,
                        school_id=t.school,
                        reason=rng.choice(["moved_school", "graduated", "personal", "other"]),
                        withdrawn_at=t.withdrawn_at + (t.withdrawal_typed_after or timedelta(0)),
                        withdrawn_on=None
                        if t.withdrawal_typed_after is None
                        else day_of(t.withdrawn_at),
                    ),
                    event_id(),
                )
            )
    for t in trainers:
        if t.erased_at is not None:
            enrolment.append((TrainerErased(trainer_id=t.id, erased_at=t.erased_at), event_id()))

    # Peer sessions, each run by certified trainers of one school, not withdrawn by then.
    peer_sessions: list[PeerSession] = []
    by_school_cohort: dict[tuple[uuid.UUID, uuid.UUID], list[Trainer]] = {}
    for t in trainers:
        by_school_cohort.setdefault((t.school, t.cohort), []).append(t)
    while len(peer_sessions) < sessions:
        school = rng.choice(school_rows)
        cohort = rng.choice(cohorts)
        day = cohort.starts_on + timedelta(
            days=rng.randint(70, (cohort.ends_on - cohort.starts_on).days)
        )
        when = at_local(day, 12)
        able = [
            t
            for t in by_school_cohort[(school.id, cohort.id)]
            if t.certified_at is not None
            and t.certified_at < when
            and (t.withdrawn_at is None or t.withdrawn_at > when)
        ]
        if not able:
            continue
        facilitators = rng.sample(able, min(len(able), rng.choices([1, 2, 3], [60, 30, 10])[0]))
        total = rng.randint(8, 30)
        female = rng.randint(total // 3, total - total // 3)
        male = total - female - rng.choice([0, 0, 0, 1, 2])
        male = max(0, male)
        grades = rng.sample([7, 8, 9, 10, 11], rng.randint(1, 3))
        left = total - rng.choice([0, 0, 0, 1, 3])
        by_grade: dict[int, int] = {}
        for g in grades[:-1]:
            n = rng.randint(0, max(0, left))
            by_grade[g] = n
            left -= n
        by_grade[grades[-1]] = max(0, left)
        responses = 0 if rng.random() < 0.05 else rng.randint(total // 2, total)
        ratings = [rng.choices([2, 3, 4, 5], [5, 15, 40, 40])[0] for _ in range(responses)]
        peer_sessions.append(
            PeerSession(
                new_id(),
                school.id,
                [f.id for f in facilitators],
                day,
                total,
                female,
                male,
                by_grade,
                responses,
                sum(ratings),
            )
        )
    peer_sessions.sort(key=lambda s: s.delivered_on or date.min)
    # Cancellations: planned sessions that never took place, completed sessions cancelled
    # afterwards, and a few whose cancellation is published before their completion.
    for _ in range(120):
        sc = rng.choice(school_rows)
        day = date(2024, 1, 15) + timedelta(days=rng.randint(0, 450))
        peer_sessions.append(PeerSession(new_id(), sc.id, [], None, cancelled_at=at_local(day, 8)))
    completed = [s for s in peer_sessions if s.delivered_on is not None]
    cancelled_after = rng.sample(completed, 15)
    for s in cancelled_after:
        assert s.delivered_on is not None
        s.cancelled_at = at_local(s.delivered_on + timedelta(days=2), 9)
    cancelled_first = set(rng.sample([s.id for s in completed if s not in cancelled_after], 5))
    for s in peer_sessions:
        if s.id in cancelled_first:
            assert s.delivered_on is not None
            s.cancelled_at = at_local(s.delivered_on - timedelta(days=1), 9)

    def cancellation(s: PeerSession) -> tuple[EventData, str]:
        assert s.cancelled_at is not None
        return (
            SessionCancelled(
                session_id=s.id,
                school_id=s.school,
                reason=CancellationReason.SCHOOL_CLOSURE,
                cancelled_at=s.cancelled_at,
            ),
            event_id(),
        )

    completion_ids: dict[uuid.UUID, str] = {}
    for s in peer_sessions:
        if s.delivered_on is None:
            session_events.append(cancellation(s))
            continue
        if s.id in cancelled_first:
            session_events.append(cancellation(s))
        completion_ids[s.id] = event_id()
        average = round(s.rating_sum / s.responses, 4) if s.responses else None
        session_events.append(
            (
                SessionCompleted(
                    session_id=s.id,
                    school_id=s.school,
                    facilitator_ids=s.facilitators,
                    topic_module_id=rng.choice(CORE_MODULES),
                    language=rng.choices(["kk", "ru", "en"], [50, 45, 5])[0],
                    delivered_on=s.delivered_on,
                    duration_minutes=rng.choice([45, 60, 80, 90]),
                    participants=Participants(
                        total=s.total,
                        female=s.female,
                        male=s.male,
                        by_grade={str(g): n for g, n in s.by_grade.items()},
                    ),
                    feedback=Feedback(responses=s.responses, average_rating=average),
                ),
                completion_ids[s.id],
            )
        )
        if s.cancelled_at is not None and s.id not in cancelled_first:
            session_events.append(cancellation(s))
    # The exact rating sum is what the event's rounded average times responses gives back.
    for s in peer_sessions:
        if s.responses:
            s.rating_sum = round(s.rating_sum / s.responses, 4) * s.responses

    # Milestones the sessions service publishes as completions arrive (in delivery order).
    first_session: set[uuid.UUID] = set()
    school_count: dict[uuid.UUID, int] = {}
    peers = 0
    thresholds = [
        (1000, MilestoneKind.PROGRAMME_PEERS_1000),
        (5000, MilestoneKind.PROGRAMME_PEERS_5000),
        (10000, MilestoneKind.PROGRAMME_PEERS_10000),
    ]
    caused: dict[uuid.UUID, str] = {}
    for s in (x for x in peer_sessions if x.delivered_on is not None):
        assert s.delivered_on is not None
        when = at_local(s.delivered_on, 18)
        for f in s.facilitators:
            if f not in first_session:
                first_session.add(f)
                mid = milestone_id(MilestoneKind.TRAINER_FIRST_SESSION, SubjectType.TRAINER, f)
                milestones.append(Milestone(mid, "trainer.first_session", "trainer", f, when))
                caused[mid] = completion_ids[s.id]
        school_count[s.school] = school_count.get(s.school, 0) + 1
        for n, kind in (
            (1, MilestoneKind.SCHOOL_FIRST_SESSION),
            (20, MilestoneKind.SCHOOL_SESSIONS_20),
        ):
            if school_count[s.school] == n:
                mid = milestone_id(kind, SubjectType.SCHOOL, s.school)
                milestones.append(Milestone(mid, kind.value, "school", s.school, when))
                caused[mid] = completion_ids[s.id]
        before, peers = peers, peers + s.total
        for threshold, kind in thresholds:
            if before < threshold <= peers:
                mid = milestone_id(kind, SubjectType.PROGRAMME, None)
                milestones.append(Milestone(mid, kind.value, "programme", None, when))
                caused[mid] = completion_ids[s.id]
    milestone_events: list[tuple[EventData, str]] = []
    for m in milestones:
        milestone_events.append(
            (
                MilestoneReached(
                    milestone_id=m.id,
                    kind=MilestoneKind(m.kind),
                    subject=MilestoneSubject(type=SubjectType(m.subject_type), id=m.subject_id),
                    reached_at=m.reached_at,
                    evidence={"count": 1},
                    caused_by=uuid.UUID(caused.get(m.id, str(new_id()))),
                ),
                event_id(),
            )
        )
    return Programme(
        school_rows,
        cohorts,
        trainers,
        peer_sessions,
        milestones,
        enrolment,
        session_events,
        milestone_events,
    )


# -- on the wire -----------------------------------------------------------------------------


async def publish(
    js: JetStreamContext,
    events: Iterable[tuple[EventData, str]],
    *,
    msg_id_suffix: str = "",
    chunk: int = 500,
) -> int:
    """Publish contract events straight to JetStream, pipelined (a chunk of publishes in
    flight at once), each awaiting its PubAck. ``msg_id_suffix`` changes the Nats-Msg-Id only,
    so the server stores a second copy of an event under the same ce-id (what a redelivery
    looks like to the inbox)."""
    items = list(events)
    for first in range(0, len(items), chunk):
        envelopes = [
            to_nats(data, source=SOURCE, event_id=ident)
            for data, ident in items[first : first + chunk]
        ]
        acks = await asyncio.gather(
            *(
                js.publish(
                    e.subject,
                    e.body,
                    headers={**e.headers, MSG_ID_HEADER: e.headers[MSG_ID_HEADER] + msg_id_suffix},
                )
                for e in envelopes
            )
        )
        assert all(a.stream for a in acks)
    return len(items)


REPORTING_DURABLES = CONSUMERS


async def consumers_caught_up(js: JetStreamContext) -> bool:
    """Every reporting durable consumer has delivered and seen acked all it holds."""
    for durable in REPORTING_DURABLES:
        info = await js.consumer_info(durable.stream, durable.durable)
        if info.num_pending or info.num_ack_pending:
            return False
    return True


@asynccontextmanager
async def serving(
    app: FastAPI, nats_url: str, programme: Programme
) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` running, with every event of ``programme`` published and projected."""
    nc = await nats.connect(nats_url)
    try:
        async with running(app) as client:
            await publish(nc.jetstream(), programme.events)
            await eventually(lambda: consumers_caught_up(nc.jetstream()), timeout=60)
            yield client
    finally:
        await nc.close()


def slice_of(items: Sequence[tuple[EventData, str]], every: int) -> list[tuple[EventData, str]]:
    return [item for index, item in enumerate(items) if index % every == 0]
