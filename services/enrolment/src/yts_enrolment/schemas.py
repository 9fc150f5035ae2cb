"""Request and response bodies of the enrolment API (what coordinators' IT people read in
``/docs``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from yts_enrolment.domain import District, Gender, Locale, WithdrawalReason

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Coordinator(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="the deputy principal who coordinates the programme at the school"
    )
    email: Email = Field(description="work email; mail from the programme goes here")
    locale: Locale = Field(description="language of the mail: kk, ru or en")


class SchoolIn(Strict):
    name: Annotated[str, StringConstraints(min_length=2, max_length=200)] = Field(
        examples=["School-Lyceum No. 134"]
    )
    district: District
    languages: list[LanguageCode] = Field(
        min_length=1, max_length=5, description="languages of instruction", examples=[["kk", "ru"]]
    )
    coordinator: Coordinator


class SchoolOut(BaseModel):
    id: uuid.UUID
    name: str
    district: District
    languages: list[str]
    active: bool
    registered_at: datetime


class CohortIn(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{4}$")] = Field(
        examples=["2024-2025"], description="the school years it covers"
    )
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _ends_after_start(self) -> CohortIn:
        if self.ends_on <= self.starts_on:
            raise ValueError("ends_on must be after starts_on")
        return self


class CohortOut(BaseModel):
    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date
    open_for_enrolment: bool
    opened_at: datetime


class GuardianConsent(Strict):
    guardian_name: Annotated[str, StringConstraints(min_length=2, max_length=200)] = Field(
        description="the parent or guardian who gave consent"
    )
    given_on: date = Field(description="date the signed consent was given")


class TrainerIn(Strict):
    school_id: uuid.UUID
    cohort_id: uuid.UUID
    first_name: Name
    last_name: Name
    grade: Literal[9, 10, 11] = Field(description="school grade: 9, 10 or 11")
    gender: Gender = Gender.UNDISCLOSED
    languages: list[LanguageCode] = Field(min_length=1, max_length=5, examples=[["kk", "ru"]])
    guardian_consent: GuardianConsent = Field(
        description="required: a trainer is a minor and is enrolled only with a guardian's consent"
    )
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="free text; personal data, never published"
    )


class WithdrawalIn(Strict):
    reason: WithdrawalReason = Field(
        description="moved_school, graduated, personal or other (a category: no free text)"
    )


class TrainerOut(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    cohort_id: uuid.UUID
    grade: int
    gender: Gender
    languages: list[str]
    status: str
    enrolled_at: datetime
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    erased: bool = False
    first_name: str | None = None
    last_name: str | None = None
    guardian_name: str | None = None
    guardian_consent_on: date | None = None
    notes: str | None = None
