"""Milestones as rules: what is counted per subject (a trainer, a school, the programme), the
threshold of each milestone kind, and which thresholds one step of a count crosses. Pure: no
I/O; ``engine`` applies them inside a use case's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from yts_contracts.milestones import MilestoneKind, SubjectType

from yts_sessions.settings import MilestoneThresholds


class Count(StrEnum):
    """What is counted per subject; the names are also the milestones' evidence."""

    CORE_MODULES_COMPLETED = "core_modules_completed"
    SESSIONS_FACILITATED = "sessions_facilitated"
    SESSIONS_DELIVERED = "sessions_delivered"
    PEER_PARTICIPATIONS = "peer_participations"


@dataclass(frozen=True)
class Subject:
    type: SubjectType
    id: uuid.UUID | None = None

    @classmethod
    def trainer(cls, trainer_id: uuid.UUID) -> Subject:
        return cls(SubjectType.TRAINER, trainer_id)

    @classmethod
    def school(cls, school_id: uuid.UUID) -> Subject:
        return cls(SubjectType.SCHOOL, school_id)

    @classmethod
    def programme(cls) -> Subject:
        return cls(SubjectType.PROGRAMME)

    @property
    def key(self) -> str:
        return self.type.value if self.id is None else f"{self.type.value}:{self.id}"


@dataclass(frozen=True)
class MilestoneRule:
    kind: MilestoneKind
    count: Count
    threshold: int


def milestone_rules(
    thresholds: MilestoneThresholds, core_modules: int
) -> tuple[MilestoneRule, ...]:
    """Every milestone kind of the design, with the count that reaches it and its threshold."""
    kind, count = MilestoneKind, Count
    return (
        MilestoneRule(kind.TRAINER_CERTIFIED, count.CORE_MODULES_COMPLETED, core_modules),
        MilestoneRule(kind.TRAINER_FIRST_SESSION, count.SESSIONS_FACILITATED, 1),
        MilestoneRule(
            kind.TRAINER_SESSIONS_5, count.SESSIONS_FACILITATED, thresholds.trainer_sessions_5
        ),
        MilestoneRule(
            kind.TRAINER_PEERS_100, count.PEER_PARTICIPATIONS, thresholds.trainer_peers_100
        ),
        MilestoneRule(kind.SCHOOL_FIRST_SESSION, count.SESSIONS_DELIVERED, 1),
        MilestoneRule(
            kind.SCHOOL_SESSIONS_20, count.SESSIONS_DELIVERED, thresholds.school_sessions_20
        ),
        MilestoneRule(
            kind.PROGRAMME_PEERS_1000, count.PEER_PARTICIPATIONS, thresholds.programme_peers_1000
        ),
        MilestoneRule(
            kind.PROGRAMME_PEERS_5000, count.PEER_PARTICIPATIONS, thresholds.programme_peers_5000
        ),
        MilestoneRule(
            kind.PROGRAMME_PEERS_10000,
            count.PEER_PARTICIPATIONS,
            thresholds.programme_peers_10000,
        ),
    )


@dataclass(frozen=True)
class Increment:
    """A count of a subject goes up by ``by``."""

    subject: Subject
    count: Count
    by: int


@dataclass(frozen=True)
class Step:
    """A count of a subject went from ``before`` to ``after`` in one fact."""

    subject: Subject
    count: Count
    before: int
    after: int


def crossed(rules: Iterable[MilestoneRule], step: Step) -> list[MilestoneRule]:
    """The milestones this step reaches: those whose threshold lies in (before, after]. Each
    threshold is crossed by exactly one step as long as counts only grow, whatever the order
    of the facts."""
    return [
        rule
        for rule in rules
        if rule.kind.subject_type is step.subject.type
        and rule.count is step.count
        and step.before < rule.threshold <= step.after
    ]


def module_increments(trainer_id: uuid.UUID, core: bool) -> list[Increment]:
    if not core:
        return []
    return [Increment(Subject.trainer(trainer_id), Count.CORE_MODULES_COMPLETED, 1)]


def session_increments(
    school_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID], participants: int
) -> list[Increment]:
    """What a completed session adds, in a fixed order (by subject, then count): concurrent
    transactions then take the counters' row locks in the same order and cannot deadlock."""
    increments = [Increment(Subject.programme(), Count.PEER_PARTICIPATIONS, participants)]
    increments.append(Increment(Subject.school(school_id), Count.SESSIONS_DELIVERED, 1))
    for trainer_id in facilitator_ids:
        subject = Subject.trainer(trainer_id)
        increments.append(Increment(subject, Count.SESSIONS_FACILITATED, 1))
        increments.append(Increment(subject, Count.PEER_PARTICIPATIONS, participants))
    return sorted(increments, key=lambda i: (i.subject.key, i.count.value))
