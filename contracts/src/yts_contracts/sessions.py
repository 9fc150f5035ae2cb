"""Session events: trainers complete curriculum modules and deliver peer sessions.

Published by the sessions service on ``yts.sessions.>`` (stream ``YTS_SESSIONS``). Peers are
anonymous: a session reports how many students took part, by category, never who they were.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    model_validator,
)

from yts_contracts.event import EventData
from yts_contracts.streams import SESSIONS_STREAM
from yts_contracts.vocabulary import (
    Day,
    EventPart,
    Id,
    LanguageCode,
    ModuleSlug,
    Timestamp,
    distinct,
)

MAX_PARTICIPANTS = 60
MAX_FACILITATORS = 3

PeerGrade = Annotated[
    str,
    Field(
        pattern=r"^([1-9]|1[01])$",
        description="School grade of the peers, written as a number from 1 to 11.",
    ),
]


class ModuleCompleted(EventData):
    event_type: ClassVar[str] = "yts.sessions.module.completed.v1"
    stream: ClassVar[str] = SESSIONS_STREAM
    description: ClassVar[str] = (
        "A young trainer has completed one module of the training curriculum. Published when the "
        "school's coordinator records the completion; once every core module is completed the "
        "trainer is certified (see the trainer.certified milestone) and may facilitate peer "
        "sessions."
    )

    trainer_id: Id = Field(description="Opaque id of the trainer who completed the module.")
    school_id: Id = Field(description="School the trainer belongs to.")
    module_id: ModuleSlug = Field(description="Slug of the curriculum module completed.")
    completed_on: Day = Field(description="Day the module was completed (ISO 8601 date).")

    def ce_subject(self) -> str:
        return str(self.trainer_id)


class Participants(EventPart):
    """Who took part in a peer session, as counts only: peers are anonymous students.

    female + male may be below total (some peers did not state a gender), and the counts by
    grade may add up to less than total (some grades were not recorded); neither may exceed
    total. JSON Schema cannot express these sums: the contracts package checks them."""

    total: int = Field(
        ge=1,
        le=MAX_PARTICIPANTS,
        description="Number of peers who took part, 1 to 60.",
    )
    female: NonNegativeInt = Field(description="Of whom girls; female + male <= total.")
    male: NonNegativeInt = Field(description="Of whom boys; female + male <= total.")
    by_grade: dict[PeerGrade, NonNegativeInt] = Field(
        description="Peers per school grade, keyed by the grade number as a string "
        '(e.g. "7" to "11"); the counts add up to at most total. May be empty.',
        json_schema_extra={"additionalProperties": False},
    )

    @model_validator(mode="after")
    def _counts_fit_in_total(self) -> Self:
        if self.female + self.male > self.total:
            raise ValueError(
                f"female + male ({self.female} + {self.male}) exceeds total ({self.total})"
            )
        graded = sum(self.by_grade.values())
        if graded > self.total:
            raise ValueError(f"by_grade counts add up to {graded}, more than total ({self.total})")
        return self


class Feedback(EventPart):
    """What peers said about a session on the feedback form (ratings 1 to 5).

    average_rating is null exactly when nobody answered (responses is 0)."""

    # The same rule as the validator below, in JSON Schema terms.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"responses": {"const": 0}}, "required": ["responses"]},
            "then": {"properties": {"average_rating": {"type": "null"}}},
            "else": {"properties": {"average_rating": {"type": "number"}}},
        }
    )

    responses: NonNegativeInt = Field(
        description="Number of feedback forms returned; at most the number of participants.",
    )
    average_rating: float | None = Field(
        ge=1,
        le=5,
        allow_inf_nan=False,
        description="Mean rating over the responses, 1 to 5; null when responses is 0.",
    )

    @model_validator(mode="after")
    def _rating_only_with_responses(self) -> Self:
        if self.responses == 0 and self.average_rating is not None:
            raise ValueError("average_rating must be null when there are no responses")
        if self.responses > 0 and self.average_rating is None:
            raise ValueError("average_rating is required when there are responses")
        return self


class SessionCompleted(EventData):
    event_type: ClassVar[str] = "yts.sessions.session.completed.v1"
    stream: ClassVar[str] = SESSIONS_STREAM
    description: ClassVar[str] = (
        "A peer session on intercultural communication has taken place: one to three certified "
        "young trainers of a school ran it for other students. Published once per session, when "
        "the school's coordinator records its completion with the attendance and feedback. "
        "Participants are counted per session: the same student in two sessions counts twice "
        "(peer participations, not distinct persons)."
    )

    session_id: Id = Field(description="Opaque id of the peer session.")
    school_id: Id = Field(description="School whose trainers delivered the session.")
    facilitator_ids: Annotated[list[Id], AfterValidator(distinct)] = Field(
        min_length=1,
        max_length=MAX_FACILITATORS,
        description="trainer_id of each young trainer who ran the session: 1 to 3, distinct.",
        json_schema_extra={"uniqueItems": True},
    )
    topic_module_id: ModuleSlug = Field(
        description="Slug of the curriculum module the session was about.",
    )
    language: LanguageCode = Field(description="Language the session was held in.")
    delivered_on: Day = Field(description="Day the session took place (ISO 8601 date).")
    duration_minutes: int = Field(
        ge=1,
        le=480,
        description="Length of the session in minutes, 1 to 480.",
    )
    participants: Participants = Field(description="Attendance, as anonymous counts.")
    feedback: Feedback = Field(description="Summary of the peers' feedback forms.")

    @model_validator(mode="after")
    def _responses_from_participants(self) -> Self:
        if self.feedback.responses > self.participants.total:
            raise ValueError(
                f"feedback.responses ({self.feedback.responses}) exceeds "
                f"participants.total ({self.participants.total})"
            )
        return self

    def ce_subject(self) -> str:
        return str(self.session_id)


class CancellationReason(StrEnum):
    """Why a planned peer session was cancelled: a category, never free text (a sentence can
    name a trainer, and trainers are minors)."""

    FACILITATOR_UNAVAILABLE = "facilitator_unavailable"  # ill, away, at an olympiad
    SCHOOL_CLOSURE = "school_closure"  # holiday, quarantine, a day declared off
    SCHEDULE_CONFLICT = "schedule_conflict"  # exams, a school event, the room taken
    LOW_ATTENDANCE = "low_attendance"  # too few peers came or signed up
    WEATHER = "weather"  # snow, frost, smog: classes moved online or called off
    OTHER = "other"


_REASON_CODES = frozenset(reason.value for reason in CancellationReason)


def _read_reason(value: object) -> object:
    """Tolerant reading of events already on the stream. Until reasons became codes,
    ``reason`` was a sentence; those events stay in YTS_SESSIONS for replay and rebuilds.
    Reading one as ``other`` keeps every consumer counting the cancellation (dead-lettering it
    would let the session count as delivered) and never hands the sentence, which may name a
    minor, to the code that reads it. A non-string is still refused: no producer ever sent one."""
    if isinstance(value, str) and value not in _REASON_CODES:
        return CancellationReason.OTHER
    return value


class SessionCancelled(EventData):
    event_type: ClassVar[str] = "yts.sessions.session.cancelled.v1"
    stream: ClassVar[str] = SESSIONS_STREAM
    description: ClassVar[str] = (
        "A planned peer session will not take place. Published once, when the school's "
        "coordinator cancels it; a cancelled session never completes and counts for nothing. "
        "The reason is a code from a closed list, never free text: any note the coordinator "
        "adds stays in the sessions service."
    )

    session_id: Id = Field(description="Opaque id of the cancelled peer session.")
    school_id: Id = Field(description="School that had planned the session.")
    reason: Annotated[CancellationReason, BeforeValidator(_read_reason)] = Field(
        description="Category of the reason: facilitator_unavailable, school_closure, "
        "schedule_conflict, low_attendance, weather or other. Events published before reasons "
        "became codes carry a sentence instead: read any value not in this list as other.",
    )
    cancelled_at: Timestamp = Field(
        description="When the coordinator cancelled the session (RFC 3339, with time zone).",
    )

    def ce_subject(self) -> str:
        return str(self.session_id)
