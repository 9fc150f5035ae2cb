"""The JSON shapes reporting answers with (documented in the OpenAPI schema)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field
from yts_contracts.vocabulary import District, Gender

from yts_reporting.filters import Filters
from yts_reporting.i18n import Messages
from yts_reporting.indicators import Totals
from yts_reporting.targets import AppliedTargets, Level, describe

PEER_PARTICIPATIONS = (
    "Peer participations: participants summed over the sessions delivered. These are "
    "participations (encounters), not distinct people: peers are anonymous, so a student who "
    "attended two sessions counts twice."
)
SHARE = "value / target: 1.0 means the target is reached; null when there is no target"
TARGET = (
    "the target this view is compared with: the programme's, the district's or the school's "
    "(see `targets`); null when none applies"
)


class Period(BaseModel):
    start: date | None = Field(
        default=None,
        serialization_alias="from",
        description="first day included (programme time zone); null: since the start",
    )
    end: date | None = Field(
        default=None,
        serialization_alias="to",
        description="last day included; null: up to now",
    )


class AppliedFilters(BaseModel):
    district: District | None = None
    school_id: uuid.UUID | None = Field(
        default=None, description="a coordinator's token always filters on its own school"
    )
    cohort_id: uuid.UUID | None = None
    grade: int | None = Field(default=None, description="trainers' grade (9, 10 or 11)")
    gender: Gender | None = Field(default=None, description="trainers' gender category")


class TargetsApplied(BaseModel):
    """Whose targets the values are compared with, and how they were made."""

    level: Level = Field(
        description="programme: no district or school filter; district: a district filter; "
        "school: a school filter or a coordinator's token"
    )
    district: District | None = None
    school_id: uuid.UUID | None = None
    schools: int | None = Field(
        default=None, description="district: its registered schools, whose targets it sums"
    )
    shared_among: int | None = Field(
        default=None,
        description="district or school: the programme's number of schools; a school's target "
        "is the programme's divided by it, rounded up",
    )
    configured: list[str] = Field(
        default_factory=list,
        description="indicators whose target at this level is set in configuration "
        "(YTS_REPORTING_SCHOOL_TARGETS__*, YTS_REPORTING_DISTRICT_TARGETS) instead of shared out",
    )
    description: str = Field(description="the same, in a sentence")


class CountIndicator(BaseModel):
    value: int
    target: int | None = Field(description=TARGET)
    share: float | None = Field(description=SHARE)


class RatingIndicator(BaseModel):
    value: float | None = Field(
        description="mean feedback rating (1 to 5) over the sessions, weighted by the number "
        "of responses of each; null when nobody answered"
    )
    responses: int = Field(description="feedback forms the average is made of")
    target: float | None = Field(description=TARGET)
    share: float | None = Field(description=SHARE)


class PeerCategories(BaseModel):
    """Peer participations by the peers' own categories, as the sessions reported them."""

    female: int
    male: int
    unstated: int = Field(description="participations whose gender was not stated")
    by_grade: dict[str, int] = Field(
        description="participations by the peers' school grade (1 to 11), where recorded; "
        "they may add up to less than the total"
    )


class IndicatorValues(BaseModel):
    schools_participating: CountIndicator = Field(
        description="schools with a trainer enrolled or a session delivered in the period"
    )
    trainers_enrolled: CountIndicator = Field(
        description="trainers (distinct persons) enrolled in the period"
    )
    trainers_certified: CountIndicator = Field(
        description="trainers certified (every core module done) in the period"
    )
    trainers_active: CountIndicator = Field(
        description="trainers who facilitated at least one session delivered in the period"
    )
    trainers_withdrawn: CountIndicator = Field(
        description="trainers withdrawn from the programme in the period"
    )
    sessions_delivered: CountIndicator = Field(
        description="peer sessions completed in the period and never cancelled"
    )
    peer_participations: CountIndicator = Field(description=PEER_PARTICIPATIONS)
    peer_participations_by_category: PeerCategories = Field(
        description="the peer participations by the peers' gender and grade"
    )
    average_rating: RatingIndicator
    milestones_reached: CountIndicator = Field(
        description="milestones of every kind (trainer, school, programme) reached in the period"
    )


class Indicators(IndicatorValues):
    period: Period
    filters: AppliedFilters
    targets: TargetsApplied


class MonthIndicators(IndicatorValues):
    month: str = Field(description="YYYY-MM, in the programme's time zone", examples=["2024-10"])


class MonthlyIndicators(BaseModel):
    period: Period
    filters: AppliedFilters
    targets: TargetsApplied
    months: list[MonthIndicators] = Field(
        description="every month from the first to the last with a fact in the period; "
        "share compares the month's value with the whole length's target of this view "
        "(programme, district or school: see `targets`)"
    )


class SchoolOut(BaseModel):
    school_id: uuid.UUID
    name: str
    district: District
    registered_at: datetime


class TrainersByCategory(BaseModel):
    grade: int
    gender: Gender
    trainers: int = Field(description="trainers enrolled in the period")


class SchoolSummary(BaseModel):
    school: SchoolOut
    period: Period
    targets: TargetsApplied
    indicators: IndicatorValues = Field(
        description="the indicators of this school; share compares with the school's target "
        "(see `targets`)"
    )
    trainers_by_grade_and_gender: list[TrainersByCategory]


def _count(value: int, target: int | float | None) -> CountIndicator:
    goal = int(target) if target else None
    return CountIndicator(value=value, target=goal, share=round(value / goal, 4) if goal else None)


def indicator_values(totals: Totals, targets: AppliedTargets) -> dict[str, object]:
    """The fields of ``IndicatorValues`` for one row of totals, against the targets."""
    rating = totals.average_rating
    rating_target = targets.of("average_rating") or None

    def count(measure: str) -> CountIndicator:
        return _count(getattr(totals, measure), targets.of(measure))

    return {
        "schools_participating": count("schools_participating"),
        "trainers_enrolled": count("trainers_enrolled"),
        "trainers_certified": count("trainers_certified"),
        "trainers_active": count("trainers_active"),
        "trainers_withdrawn": count("trainers_withdrawn"),
        "sessions_delivered": count("sessions_delivered"),
        "peer_participations": count("peer_participations"),
        "peer_participations_by_category": PeerCategories(
            female=totals.peers_female,
            male=totals.peers_male,
            unstated=totals.peers_unstated,
            by_grade={str(g): n for g, n in sorted(totals.peers_by_grade.items())},
        ),
        "average_rating": RatingIndicator(
            value=rating,
            responses=totals.feedback_responses,
            target=rating_target,
            share=round(rating / rating_target, 4)
            if rating is not None and rating_target
            else None,
        ),
        "milestones_reached": count("milestones_reached"),
    }


def targets_applied(targets: AppliedTargets) -> TargetsApplied:
    return TargetsApplied(
        level=targets.level,
        district=District(targets.district) if targets.district else None,
        school_id=targets.school_id,
        schools=targets.schools,
        shared_among=targets.shared_among,
        configured=list(targets.configured),
        description=describe(targets, Messages("en")),
    )


def period_of(filters: Filters) -> Period:
    return Period(start=filters.start, end=filters.end)


def filters_of(filters: Filters) -> AppliedFilters:
    return AppliedFilters(
        district=District(filters.district) if filters.district else None,
        school_id=filters.school_id,
        cohort_id=filters.cohort_id,
        grade=filters.grade,
        gender=Gender(filters.gender) if filters.gender else None,
    )
