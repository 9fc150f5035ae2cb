"""The JSON shapes reporting answers with (documented in the OpenAPI schema)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field
from yts_contracts.vocabulary import District, Gender

from yts_reporting.indicators import Filters, Totals
from yts_reporting.settings import ProgrammeTargets

PEER_PARTICIPATIONS = (
    "Peer participations: participants summed over the sessions delivered. These are "
    "participations (encounters), not distinct people: peers are anonymous, so a student who "
    "attended two sessions counts twice."
)
SHARE = "value / target: 1.0 means the target is reached; null when there is no target"
TARGET = "the programme's target for 2023-2025 (configuration); null when there is none"


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


class MonthIndicators(IndicatorValues):
    month: str = Field(description="YYYY-MM, in the programme's time zone", examples=["2024-10"])


class MonthlyIndicators(BaseModel):
    period: Period
    filters: AppliedFilters
    months: list[MonthIndicators] = Field(
        description="every month from the first to the last with a fact in the period; "
        "share compares the month's value with the whole programme's target"
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
    indicators: IndicatorValues = Field(
        description="the indicators of this school; share compares with the programme's target"
    )
    trainers_by_grade_and_gender: list[TrainersByCategory]


def _count(value: int, target: int) -> CountIndicator:
    goal = target or None
    return CountIndicator(value=value, target=goal, share=round(value / goal, 4) if goal else None)


def indicator_values(totals: Totals, targets: ProgrammeTargets) -> dict[str, object]:
    """The fields of ``IndicatorValues`` for one row of totals, against the targets."""
    rating = totals.average_rating
    rating_target = targets.average_rating or None
    return {
        "schools_participating": _count(
            totals.schools_participating, targets.schools_participating
        ),
        "trainers_enrolled": _count(totals.trainers_enrolled, targets.trainers_enrolled),
        "trainers_certified": _count(totals.trainers_certified, targets.trainers_certified),
        "trainers_active": _count(totals.trainers_active, targets.trainers_active),
        "trainers_withdrawn": _count(totals.trainers_withdrawn, targets.trainers_withdrawn),
        "sessions_delivered": _count(totals.sessions_delivered, targets.sessions_delivered),
        "peer_participations": _count(totals.peer_participations, targets.peer_participations),
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
        "milestones_reached": _count(totals.milestones_reached, targets.milestones_reached),
    }


def period_of(f: Filters) -> Period:
    return Period(start=f.start, end=f.end)


def filters_of(f: Filters) -> AppliedFilters:
    return AppliedFilters(
        district=District(f.district) if f.district else None,
        school_id=f.school_id,
        cohort_id=f.cohort_id,
        grade=f.grade,
        gender=Gender(f.gender) if f.gender else None,
    )
