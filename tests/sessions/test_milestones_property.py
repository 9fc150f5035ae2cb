"""Property: whatever the order in which the same facts (module completions, session
completions) reach the service, and however often each is repeated, the milestones reached are
the same set and each is reached once.

The facts go through the service's own use cases on a real database (SQLite or PostgreSQL);
a repeat meets the service's idempotency guards (a module completes once, a session completes
once: 409), and a session completed before its facilitators are certified is refused and
retried later, as a coordinator would."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from yts_chassis.auth import Principal, Role
from yts_chassis.database import Database
from yts_chassis.migrations import upgrade_async
from yts_chassis.outbox import Outbox
from yts_contracts.enrolment import CohortOpened, SchoolRegistered, TrainerEnrolled
from yts_contracts.envelope import from_nats, to_nats
from yts_contracts.event import EventData
from yts_contracts.milestones import MilestoneKind
from yts_sessions import milestones, roster, store, usecases
from yts_sessions.curriculum import load_curriculum
from yts_sessions.errors import AlreadyRecorded, NotCertified
from yts_sessions.main import MIGRATIONS
from yts_sessions.schemas import ModuleCompletionIn, ParticipantsIn, SessionCompletionIn
from yts_sessions.settings import CURRICULUM, MilestoneThresholds
from yts_sessions.store import PeerSession, SessionFacilitator

from tests.support.sessions_roster import MILESTONE

THRESHOLDS = MilestoneThresholds(
    trainer_sessions_5=2,
    trainer_peers_100=40,
    school_sessions_20=3,
    programme_peers_1000=50,
    programme_peers_5000=90,
    programme_peers_10000=150,
)
ADMIN = Principal(role=Role.admin, label="property test")
SCHOOL = uuid.UUID("0c6c0a4e-6f5e-4c55-9d0e-51f5b7a0c001")
COHORT = uuid.UUID("0c6c0a4e-6f5e-4c55-9d0e-51f5b7a0c002")
TRAINERS = [uuid.UUID(f"0c6c0a4e-6f5e-4c55-9d0e-51f5b7a0c1{i:02d}") for i in range(3)]
CURRICULUM_MODULES = load_curriculum(CURRICULUM)
CORE = sorted(CURRICULUM_MODULES.core_ids)
# Trainers 0 and 1 complete every core module; trainer 2 only four (never certified).
MODULE_FACTS = [("module", t, m) for t in (0, 1) for m in CORE] + [
    ("module", 2, m) for m in CORE[:4]
]


@dataclass(frozen=True)
class PlannedSession:
    id: uuid.UUID
    facilitators: tuple[int, ...]
    total: int


@pytest.fixture
async def deps(database_factory) -> AsyncIterator[usecases.Deps]:
    url = await database_factory("sessions_property")
    await upgrade_async(url, MIGRATIONS)
    db = Database(url)
    try:
        outbox = Outbox(store.messaging, "/yts/sessions")
        zone = ZoneInfo("Asia/Almaty")
        yield usecases.Deps(
            db=db,
            outbox=outbox,
            curriculum=CURRICULUM_MODULES,
            milestones=milestones.MilestoneEngine(
                outbox, milestones.milestone_rules(THRESHOLDS, len(CORE)), zone
            ),
            timezone=zone,
        )
    finally:
        await db.dispose()


def received(data: EventData):
    envelope = to_nats(data, source="/yts/enrolment", event_id=uuid.uuid4())
    return from_nats(envelope.subject, envelope.headers, envelope.body)


async def fresh_world(deps: usecases.Deps, sessions: Sequence[tuple[tuple[int, ...], int]]):
    """Empty tables, the roster through its own handlers, and the sessions planned."""
    today = deps.today()
    async with deps.db.transaction() as session:
        for table in reversed(store.metadata.sorted_tables):
            await session.execute(table.delete())
        now = datetime.now(UTC)
        await roster.school_registered(
            session,
            received(
                SchoolRegistered(
                    school_id=SCHOOL,
                    name="School No. 1",
                    district="Almaly",
                    languages=["kk"],
                    registered_at=now,
                )
            ),
        )
        await roster.cohort_opened(
            session,
            received(
                CohortOpened(
                    cohort_id=COHORT,
                    name="2026-2027",
                    starts_on=today - timedelta(days=100),
                    ends_on=today + timedelta(days=100),
                )
            ),
        )
        for trainer_id in TRAINERS:
            await roster.trainer_enrolled(
                session,
                received(
                    TrainerEnrolled(
                        trainer_id=trainer_id,
                        school_id=SCHOOL,
                        cohort_id=COHORT,
                        grade=10,
                        gender="male",
                        languages=["ru"],
                        enrolled_at=now,
                    )
                ),
            )
        planned: list[PlannedSession] = []
        # Planned directly: planning needs certified facilitators, and here certification
        # itself is one of the facts that arrive in any order.
        for facilitators, total in sessions:
            peer = PeerSession(
                id=uuid.uuid4(),
                school_id=SCHOOL,
                topic_module_id=CORE[0],
                language="kk",
                status="planned",
                created_at=now,
            )
            session.add(peer)
            await session.flush()
            session.add_all(
                SessionFacilitator(session_id=peer.id, trainer_id=TRAINERS[t], position=p)
                for p, t in enumerate(facilitators)
            )
            planned.append(PlannedSession(peer.id, facilitators, total))
    return planned


async def apply(deps: usecases.Deps, fact: tuple, planned: list[PlannedSession]) -> str:
    """Feed one fact to the service; returns applied, duplicate or not_yet."""
    today = deps.today()
    try:
        if fact[0] == "module":
            _, trainer, module_id = fact
            await usecases.complete_module(
                deps, TRAINERS[trainer], ModuleCompletionIn(module_id=module_id), ADMIN, today
            )
        else:
            peer = planned[fact[1]]
            await usecases.complete_session(
                deps,
                peer.id,
                SessionCompletionIn(
                    delivered_on=today - timedelta(days=1),
                    duration_minutes=45,
                    participants=ParticipantsIn(total=peer.total),
                ),
                ADMIN,
                today,
            )
    except AlreadyRecorded:  # a module completes once, a session once
        return "duplicate"
    except NotCertified:
        return "not_yet"
    return "applied"


def expected_milestones(planned: list[PlannedSession]) -> set[tuple[str, uuid.UUID | None]]:
    sessions = Counter[int]()
    peers = Counter[int]()
    for peer in planned:
        for trainer in peer.facilitators:
            sessions[trainer] += 1
            peers[trainer] += peer.total
    programme = sum(p.total for p in planned)
    kind = MilestoneKind
    reached: set[tuple[str, uuid.UUID | None]] = {
        (kind.TRAINER_CERTIFIED.value, TRAINERS[0]),
        (kind.TRAINER_CERTIFIED.value, TRAINERS[1]),
    }
    for trainer in (0, 1):
        if sessions[trainer] >= 1:
            reached.add((kind.TRAINER_FIRST_SESSION.value, TRAINERS[trainer]))
        if sessions[trainer] >= THRESHOLDS.trainer_sessions_5:
            reached.add((kind.TRAINER_SESSIONS_5.value, TRAINERS[trainer]))
        if peers[trainer] >= THRESHOLDS.trainer_peers_100:
            reached.add((kind.TRAINER_PEERS_100.value, TRAINERS[trainer]))
    if planned:
        reached.add((kind.SCHOOL_FIRST_SESSION.value, SCHOOL))
    if len(planned) >= THRESHOLDS.school_sessions_20:
        reached.add((kind.SCHOOL_SESSIONS_20.value, SCHOOL))
    for threshold, programme_kind in (
        (THRESHOLDS.programme_peers_1000, kind.PROGRAMME_PEERS_1000),
        (THRESHOLDS.programme_peers_5000, kind.PROGRAMME_PEERS_5000),
        (THRESHOLDS.programme_peers_10000, kind.PROGRAMME_PEERS_10000),
    ):
        if programme >= threshold:
            reached.add((programme_kind.value, None))
    return reached


teams = st.sampled_from([(0,), (1,), (0, 1), (1, 0)])
session_plans = st.lists(st.tuples(teams, st.integers(1, 60)), min_size=0, max_size=6)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sessions=session_plans, data=st.data())
async def test_any_order_and_any_repeats_of_the_same_facts_reach_the_same_milestones_once(
    deps: usecases.Deps, sessions: list[tuple[tuple[int, ...], int]], data: st.DataObject
) -> None:
    planned = await fresh_world(deps, sessions)
    facts: list[tuple] = [*MODULE_FACTS, *(("session", i) for i in range(len(planned)))]
    repeats = data.draw(st.lists(st.sampled_from(facts), max_size=8), label="repeats")
    order = data.draw(st.permutations(facts + repeats), label="order")

    waiting: list[tuple] = []
    for fact in order:
        outcome = await apply(deps, fact, planned)
        if outcome == "not_yet":
            waiting.append(fact)
        elif outcome == "applied" and waiting:
            # Something changed: the coordinator tries the refused sessions again.
            waiting = [f for f in waiting if await apply(deps, f, planned) == "not_yet"]
    assert waiting == []

    async with deps.db.session() as session:
        rows = (await session.execute(select(store.Milestone))).scalars().all()
        outbox = deps.outbox.table
        published = (
            (await session.execute(select(outbox.c.body).where(outbox.c.event_type == MILESTONE)))
            .scalars()
            .all()
        )
    reached = {(m.kind, m.subject_id) for m in rows}
    assert reached == expected_milestones(planned)
    published_ids = Counter(json.loads(body)["milestone_id"] for body in published)
    assert set(published_ids.values()) <= {1}
    assert set(published_ids) == {str(m.milestone_id) for m in rows}
