"""Enrolment events: schools join, cohorts open, young trainers enrol, leave or are erased.

Published by the enrolment service on ``yts.enrolment.>`` (stream ``YTS_ENROLMENT``). Trainers
are minors: these events identify a trainer only by an opaque random ``trainer_id`` and carry
categories (grade, gender, languages), never names, birth dates or contacts.
"""

from __future__ import annotations

from datetime import date, tzinfo
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import Field, model_validator

from yts_contracts.event import EventData
from yts_contracts.streams import ENROLMENT_STREAM
from yts_contracts.vocabulary import (
    Day,
    District,
    Gender,
    Grade,
    Id,
    Languages,
    Timestamp,
)


class SchoolRegistered(EventData):
    event_type: ClassVar[str] = "yts.enrolment.school.registered.v1"
    stream: ClassVar[str] = ENROLMENT_STREAM
    description: ClassVar[str] = (
        "An Almaty school has joined the Young Trainers' School programme. Published once, when "
        "programme staff register the school; from then on its coordinator can enrol young "
        "trainers and record peer sessions. The school's coordinator contact is not part of this "
        "event: it travels only on the internal private stream."
    )

    school_id: Id = Field(description="Opaque id of the school, stable for the whole programme.")
    name: str = Field(
        min_length=1,
        max_length=200,
        description="Official name of the school (an institution, not a person).",
        examples=["School-Lyceum No. 134"],
    )
    district: District = Field(description="Almaty district the school is in.")
    languages: Languages = Field(
        description="Languages of instruction of the school, as ISO 639-1 codes (at least one).",
    )
    registered_at: Timestamp = Field(
        description="When programme staff registered the school (RFC 3339, with time zone).",
    )

    def ce_subject(self) -> str:
        return str(self.school_id)


class CohortOpened(EventData):
    event_type: ClassVar[str] = "yts.enrolment.cohort.opened.v1"
    stream: ClassVar[str] = ENROLMENT_STREAM
    description: ClassVar[str] = (
        "A cohort of the programme, usually one school year, has been opened. Published once, "
        "when programme staff open it; trainers are enrolled into a cohort, and the peer sessions "
        "they deliver fall between its start and end dates."
    )

    cohort_id: Id = Field(description="Opaque id of the cohort.")
    name: str = Field(
        pattern=r"^\d{4}-\d{4}$",
        description="School years the cohort spans, written YYYY-YYYY.",
        examples=["2024-2025"],
    )
    starts_on: Day = Field(description="First day of the cohort (ISO 8601 date).")
    ends_on: Day = Field(
        description="Last day of the cohort (ISO 8601 date); always after starts_on.",
    )

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.ends_on <= self.starts_on:
            raise ValueError("ends_on must be after starts_on")
        return self

    def ce_subject(self) -> str:
        return str(self.cohort_id)


class TrainerEnrolled(EventData):
    event_type: ClassVar[str] = "yts.enrolment.trainer.enrolled.v1"
    stream: ClassVar[str] = ENROLMENT_STREAM
    description: ClassVar[str] = (
        "A student of grade 9, 10 or 11 has been enrolled as a young trainer of a school in a "
        "cohort, with the guardian's consent recorded. Published when the school's coordinator "
        "enrols the trainer. The trainer is a minor and appears only as an opaque trainer_id "
        "with categories (grade, gender, languages): never a name, birth date or contact."
    )

    trainer_id: Id = Field(
        description="Opaque random id of the trainer; it reveals nothing about the person.",
    )
    school_id: Id = Field(description="School the trainer belongs to.")
    cohort_id: Id = Field(description="Cohort the trainer is enrolled in.")
    grade: Grade = Field(description="The trainer's school grade at enrolment: 9, 10 or 11.")
    gender: Gender = Field(
        description="Gender category: female, male or undisclosed (the trainer's choice).",
    )
    languages: Languages = Field(
        description="Languages the trainer can run peer sessions in, as ISO 639-1 codes "
        "(at least one).",
    )
    enrolled_at: Timestamp = Field(
        description="When the coordinator recorded the enrolment (RFC 3339, with time zone).",
    )
    enrolled_on: Day | None = Field(
        default=None,
        description="The day the enrolment took effect (ISO 8601 date), inside the cohort and "
        "not after enrolled_at: a record kept on paper is entered later with the day it "
        "happened. Always sent since it was added; absent from older events, whose enrolment "
        "took effect on the day of enrolled_at in the programme's time zone (Asia/Almaty).",
        examples=["2024-09-16"],
    )

    def enrolled_day(self, zone: tzinfo) -> date:
        """The day the enrolment took effect: ``enrolled_on``, or for an older event without
        it, the day of ``enrolled_at`` in ``zone`` (the programme's time zone)."""
        return self.enrolled_on or self.enrolled_at.astimezone(zone).date()

    def ce_subject(self) -> str:
        return str(self.trainer_id)


class WithdrawalReason(StrEnum):
    """Why a trainer left the programme; a category, never free text."""

    MOVED_SCHOOL = "moved_school"
    GRADUATED = "graduated"
    PERSONAL = "personal"
    OTHER = "other"


class TrainerWithdrawn(EventData):
    event_type: ClassVar[str] = "yts.enrolment.trainer.withdrawn.v1"
    stream: ClassVar[str] = ENROLMENT_STREAM
    description: ClassVar[str] = (
        "A young trainer has left the programme. Published when the school's coordinator "
        "records the withdrawal; the trainer no longer facilitates peer sessions, while the "
        "sessions already delivered still count."
    )

    trainer_id: Id = Field(description="Opaque id of the trainer who left.")
    school_id: Id = Field(description="School the trainer belonged to.")
    reason: WithdrawalReason = Field(
        description="Category of the reason: moved_school, graduated, personal or other.",
    )
    withdrawn_at: Timestamp = Field(
        description="When the withdrawal was recorded (RFC 3339, with time zone).",
    )
    withdrawn_on: Day | None = Field(
        default=None,
        description="The day the trainer left (ISO 8601 date): not before the enrolment took "
        "effect, not after the cohort's end, and not after withdrawn_at. Always sent since it "
        "was added; absent from older events, whose withdrawal took effect on the day of "
        "withdrawn_at in the programme's time zone (Asia/Almaty).",
        examples=["2025-03-14"],
    )

    def withdrawn_day(self, zone: tzinfo) -> date:
        """The day the withdrawal took effect: ``withdrawn_on``, or for an older event without
        it, the day of ``withdrawn_at`` in ``zone`` (the programme's time zone)."""
        return self.withdrawn_on or self.withdrawn_at.astimezone(zone).date()

    def ce_subject(self) -> str:
        return str(self.trainer_id)


class TrainerErased(EventData):
    event_type: ClassVar[str] = "yts.enrolment.trainer.erased.v1"
    stream: ClassVar[str] = ENROLMENT_STREAM
    description: ClassVar[str] = (
        "A young trainer's personal data has been erased from the enrolment database on request. "
        "Published once per erasure. An anonymous tombstone stays under the same trainer_id so "
        "that counts remain right; consumers that keep anything about this trainer beyond "
        "counts must delete it."
    )

    trainer_id: Id = Field(description="Opaque id of the trainer whose personal data is gone.")
    erased_at: Timestamp = Field(
        description="When the personal data was erased (RFC 3339, with time zone).",
    )

    def ce_subject(self) -> str:
        return str(self.trainer_id)
