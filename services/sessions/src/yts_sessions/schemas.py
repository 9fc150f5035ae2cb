"""Request and response bodies of the sessions API (what coordinators' IT people read in
``/docs``). The per-field limits mirror the event contracts; rules across fields and against
the roster are checked by the use cases and answered as problems naming field and rule."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, StringConstraints
from yts_contracts.milestones import MilestoneKind, SubjectType
from yts_contracts.sessions import (
    MAX_FACILITATORS,
    MAX_PARTICIPANTS,
    CancellationReason,
    PeerGrade,
)
from yts_contracts.vocabulary import Day, LanguageCode, ModuleSlug

from yts_sessions.domain import SessionStatus

Facilitators = Annotated[
    list[uuid.UUID],
    Field(
        min_length=1,
        max_length=MAX_FACILITATORS,
        description="trainer ids of the young trainers who run the session: 1 to 3, distinct, "
        "certified, active and of the session's school",
    ),
]


MAX_NOTE = 500


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ModuleNamesOut(BaseModel):
    kk: str
    ru: str
    en: str


class ModuleOut(BaseModel):
    id: str = Field(examples=["intercultural-communication"])
    core: bool = Field(description="needed for certification")
    names: ModuleNamesOut


class ModuleCompletionIn(Strict):
    module_id: ModuleSlug = Field(description="id of a curriculum module (GET /v1/modules)")
    completed_on: Day | None = Field(
        default=None,
        description="day the module was completed (YYYY-MM-DD), from the start of the "
        "trainer's cohort to today; today if left out",
    )


class ModuleCompletionOut(BaseModel):
    trainer_id: uuid.UUID
    module_id: str
    completed_on: date
    certified: bool = Field(description="every core module is now completed")


class MilestoneOut(BaseModel):
    milestone_id: uuid.UUID
    kind: MilestoneKind
    subject_type: SubjectType
    subject_id: uuid.UUID | None
    reached_at: datetime
    evidence: dict[str, int]


class CompletedModuleOut(BaseModel):
    module_id: str
    completed_on: date


class ProgressOut(BaseModel):
    trainer_id: uuid.UUID
    school_id: uuid.UUID
    cohort_id: uuid.UUID
    status: str
    erased: bool
    modules_completed: list[CompletedModuleOut]
    core_modules_total: int
    core_modules_completed: int
    certified: bool
    sessions_facilitated: int = Field(description="completed peer sessions the trainer ran")
    peer_participations: int = Field(
        description="participants summed over those sessions (encounters, not distinct persons)"
    )
    milestones: list[MilestoneOut]


class SessionPlanIn(Strict):
    school_id: uuid.UUID
    topic_module_id: ModuleSlug = Field(description="the curriculum module the session is about")
    facilitator_ids: Facilitators
    language: LanguageCode
    planned_on: Day | None = Field(
        default=None,
        description="the day it is planned for (YYYY-MM-DD), inside the facilitators' cohort",
    )


class ParticipantsIn(Strict):
    total: int = Field(ge=1, le=MAX_PARTICIPANTS, description="peers who took part, 1 to 60")
    female: NonNegativeInt = Field(default=0, description="of whom girls; female + male <= total")
    male: NonNegativeInt = Field(default=0, description="of whom boys; female + male <= total")
    by_grade: dict[PeerGrade, NonNegativeInt] = Field(
        default_factory=dict,
        description='peers per school grade, e.g. {"8": 12, "9": 10}; adds up to at most total',
    )


class FeedbackIn(Strict):
    responses: NonNegativeInt = Field(default=0, description="feedback forms returned")
    average_rating: float | None = Field(
        default=None,
        ge=1,
        le=5,
        allow_inf_nan=False,
        description="mean rating of the forms, 1 to 5; empty when none came back",
    )


class SessionCompletionIn(Strict):
    delivered_on: Day = Field(
        description="the day it took place (YYYY-MM-DD): not in the future, inside the "
        "facilitators' cohort"
    )
    duration_minutes: int = Field(ge=1, le=480)
    participants: ParticipantsIn
    feedback: FeedbackIn = Field(default_factory=FeedbackIn)
    language: LanguageCode | None = Field(
        default=None, description="language it was held in, if not the planned one"
    )
    facilitator_ids: Facilitators | None = Field(
        default=None, description="who actually ran it, if not the planned facilitators"
    )


class CancellationIn(Strict):
    reason: CancellationReason = Field(
        description="why, as a code partners read: facilitator_unavailable, school_closure, "
        "schedule_conflict, low_attendance, weather or other",
        examples=["school_closure"],
    )
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE)] | None = Field(
        default=None,
        description="what happened, in your words, for the school and programme staff only: "
        "kept in this service, never published (up to 500 characters)",
        examples=["The assembly hall is taken by exam preparation all week."],
    )


class ParticipantsOut(BaseModel):
    total: int
    female: int
    male: int
    by_grade: dict[str, int]


class FeedbackOut(BaseModel):
    responses: int
    average_rating: float | None


class SessionOut(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    topic_module_id: str
    language: str
    facilitator_ids: list[uuid.UUID]
    planned_on: date | None
    status: SessionStatus
    created_at: datetime
    delivered_on: date | None = None
    duration_minutes: int | None = None
    participants: ParticipantsOut | None = None
    feedback: FeedbackOut | None = None
    completed_at: datetime | None = None
    cancellation_reason: CancellationReason | None = None
    cancellation_note: str | None = Field(
        default=None, description="the coordinator's own words; never published"
    )
    cancelled_at: datetime | None = None
