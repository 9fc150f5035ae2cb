"""The sessions rules and the milestone logic: pure functions and value types, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from yts_contracts.milestones import MilestoneKind, SubjectType

from yts_sessions.settings import MilestoneThresholds

__all__ = [
    "Breach",
    "CohortDates",
    "Count",
    "Increment",
    "MilestoneRule",
    "RuleBroken",
    "SessionStatus",
    "Step",
    "Subject",
    "TrainerStatus",
    "completed_on_breach",
    "crossed",
    "delivered_on_breach",
    "enforce",
    "feedback_breach",
    "is_certified",
    "milestone_rules",
    "module_increments",
    "participants_breach",
    "planned_on_breach",
    "session_increments",
]


class TrainerStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


class SessionStatus(StrEnum):
    planned = "planned"
    completed = "completed"
    cancelled = "cancelled"


@dataclass(frozen=True)
class Breach:
    """A broken rule, as the problem a person sees: the field, the rule and what to do."""

    field: str
    rule: str
    message: str


class RuleBroken(ValueError):
    """Input a rule of the domain refuses; the API answers it with a 422 problem naming the
    field and the rule, and nothing is stored or published."""

    def __init__(self, breach: Breach) -> None:
        super().__init__(f"{breach.field}: {breach.message}")
        self.breach = breach


def enforce(breach: Breach | None) -> None:
    """Raise RuleBroken when a rule is broken."""
    if breach is not None:
        raise RuleBroken(breach)


CohortDates = tuple[date, date]
"""First and last day of a cohort: a trainer's training and sessions happen inside them."""


# -- rules of a peer session --------------------------------------------------------------


def is_certified(completed: Collection[str], core: Collection[str]) -> bool:
    """Certified: every core module of the curriculum completed."""
    return set(core) <= set(completed)


def participants_breach(
    total: int, female: int, male: int, by_grade: dict[str, int]
) -> Breach | None:
    if female + male > total:
        return Breach(
            "participants.female",
            "female_plus_male_within_total",
            f"female + male ({female} + {male}) is more than total ({total}); "
            "peers who did not state a gender count only in total",
        )
    graded = sum(by_grade.values())
    if graded > total:
        return Breach(
            "participants.by_grade",
            "within_total",
            f"the counts by grade add up to {graded}, more than total ({total})",
        )
    return None


def feedback_breach(responses: int, average_rating: float | None, total: int) -> Breach | None:
    if responses > total:
        return Breach(
            "feedback.responses",
            "within_participants",
            f"{responses} feedback forms from {total} participants: at most one each",
        )
    if responses == 0 and average_rating is not None:
        return Breach(
            "feedback.average_rating",
            "null_without_responses",
            "leave average_rating empty when no feedback form came back",
        )
    if responses > 0 and average_rating is None:
        return Breach(
            "feedback.average_rating",
            "required_with_responses",
            "give the average rating (1 to 5) of the forms that came back",
        )
    return None


def delivered_on_breach(
    delivered_on: date, today: date, cohorts: Iterable[CohortDates]
) -> Breach | None:
    """A session is recorded after it took place, inside each facilitator's cohort."""
    if delivered_on > today:
        return Breach(
            "delivered_on",
            "not_in_future",
            f"{delivered_on} is in the future; record a session once it has taken place",
        )
    for starts_on, ends_on in cohorts:
        if not starts_on <= delivered_on <= ends_on:
            return Breach(
                "delivered_on",
                "within_cohort",
                f"{delivered_on} is outside the facilitators' cohort ({starts_on} to {ends_on})",
            )
    return None


def planned_on_breach(planned_on: date, cohorts: Iterable[CohortDates]) -> Breach | None:
    """A session is planned for a day its facilitators' cohorts run: it can only be delivered
    then. A day already past is allowed (a session recorded after the fact)."""
    for starts_on, ends_on in cohorts:
        if not starts_on <= planned_on <= ends_on:
            return Breach(
                "planned_on",
                "within_cohort",
                f"{planned_on} is outside the facilitators' cohort ({starts_on} to {ends_on}); "
                "a session is planned for a day its cohort runs",
            )
    return None


def completed_on_breach(completed_on: date, today: date, cohort: CohortDates) -> Breach | None:
    """A module is recorded after it was completed, and the training starts with the cohort."""
    if completed_on > today:
        return Breach(
            "completed_on",
            "not_in_future",
            f"{completed_on} is in the future; record a module once it has been completed",
        )
    starts_on, _ = cohort
    if completed_on < starts_on:
        return Breach(
            "completed_on",
            "not_before_cohort",
            f"{completed_on} is before the trainer's cohort started ({starts_on}); "
            "modules are completed during the programme",
        )
    return None


# -- milestones -------------------------------------------------------------------------------


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
