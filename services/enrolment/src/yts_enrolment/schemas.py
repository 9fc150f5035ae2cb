"""Request and response bodies of the enrolment API (what coordinators' IT people read in
``/docs``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from yts_chassis.days import ProgrammeDay

from yts_enrolment import domain
from yts_enrolment.domain import District, Gender, Locale, WithdrawalReason


def _rule(name: str, problem_of: Callable[[str], str | None]) -> AfterValidator:
    """A pydantic check from a domain rule: the problem it finds is reported under ``name``."""

    def check(value: str) -> str:
        problem = problem_of(value)
        if problem:
            raise PydanticCustomError(name, problem)
        return value

    return AfterValidator(check)


OneLine = _rule("one_line", domain.one_line_text_problem)
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine
]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


def _distinct(codes: list[str]) -> list[str]:
    # The events carry languages as a set (the contract's uniqueItems): a repeat is refused here,
    # with its field, rather than by the event model after the request was accepted.
    if len(set(codes)) != len(codes):
        raise PydanticCustomError("distinct", "names a language twice")
    return codes


Languages = Annotated[
    list[LanguageCode],
    AfterValidator(_distinct),
    Field(min_length=1, max_length=5, json_schema_extra={"uniqueItems": True}),
]

# A coordinator's contact is read by the notification service's mail library; these types are
# the one place that says what it can read, for every route that sets or changes a contact.
CoordinatorEmail = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=254),
    _rule("mail_address", domain.mail_address_problem),
]
CoordinatorName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    _rule("mail_display_name", domain.mail_display_name_problem),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Coordinator(Strict):
    name: CoordinatorName = Field(
        description="the deputy principal who coordinates the programme at the school; one line"
    )
    email: CoordinatorEmail = Field(
        description="work email (user@domain.tld, ASCII); mail from the programme goes here"
    )
    locale: Locale = Field(description="language of the mail: kk, ru or en")


class CoordinatorOut(BaseModel):
    """The contact the programme's mail to the school goes to (an adult's work contact)."""

    name: str
    email: str
    locale: Locale


class SchoolIn(Strict):
    name: Annotated[str, StringConstraints(min_length=2, max_length=200), OneLine] = Field(
        examples=["School-Lyceum No. 134"]
    )
    district: District
    languages: Languages = Field(description="languages of instruction", examples=[["kk", "ru"]])
    coordinator: Coordinator


class SchoolOut(BaseModel):
    id: uuid.UUID
    name: str
    district: District
    languages: list[str]
    active: bool
    registered_at: datetime


class CohortIn(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{4}$")] = Field(
        examples=["2024-2025"], description="the school years it covers"
    )
    starts_on: ProgrammeDay = Field(description="first day (YYYY-MM-DD, years 2000-2100)")
    ends_on: ProgrammeDay = Field(description="last day (YYYY-MM-DD), after starts_on")

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, ends_on: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None and ends_on <= starts_on:
            raise PydanticCustomError("after_starts_on", "must be after starts_on")
        return ends_on


class CohortOut(BaseModel):
    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date
    open_for_enrolment: bool
    opened_at: datetime


class GuardianConsent(Strict):
    guardian_name: Annotated[str, StringConstraints(min_length=2, max_length=200), OneLine] = Field(
        description="the parent or guardian who gave consent"
    )
    given_on: ProgrammeDay = Field(
        description="date the signed consent was given (YYYY-MM-DD): not in the future, and not "
        "before 1 January three years before the cohort's first year"
    )


class TrainerIn(Strict):
    school_id: uuid.UUID
    cohort_id: uuid.UUID
    first_name: Name
    last_name: Name
    grade: Literal[9, 10, 11] = Field(description="school grade: 9, 10 or 11")
    gender: Gender = Gender.UNDISCLOSED
    languages: Languages = Field(examples=[["kk", "ru"]])
    guardian_consent: GuardianConsent = Field(
        description="required: a trainer is a minor and is enrolled only with a guardian's consent"
    )
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="free text; personal data, never published"
    )
    enrolled_on: ProgrammeDay | None = Field(
        default=None,
        description="the day the enrolment took effect (YYYY-MM-DD), for a record kept on paper "
        "and entered later: not in the future, and from the cohort's starts_on to its ends_on; "
        "default: today in the programme's time zone (Asia/Almaty)",
        examples=["2024-09-16"],
    )


class WithdrawalIn(Strict):
    reason: WithdrawalReason = Field(
        description="moved_school, graduated, personal or other (a category: no free text)"
    )
    withdrawn_on: ProgrammeDay | None = Field(
        default=None,
        description="the day the trainer left (YYYY-MM-DD): not in the future, not before the "
        "trainer's enrolled_on and not after the cohort's ends_on; default: today in the "
        "programme's time zone (Asia/Almaty)",
        examples=["2025-03-14"],
    )


class NamesCorrectionIn(Strict):
    """A mistyped name corrected (the grade is not corrected here)."""

    first_name: Name | None = Field(default=None, description="the first name as it should be")
    last_name: Name | None = Field(default=None, description="the last name as it should be")


class TrainerOut(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    cohort_id: uuid.UUID
    grade: int
    gender: Gender
    languages: list[str]
    status: str
    enrolled_at: datetime = Field(description="when the enrolment was recorded")
    enrolled_on: date = Field(description="the day the enrolment took effect")
    withdrawn_at: datetime | None = Field(
        default=None, description="when the withdrawal was recorded"
    )
    withdrawn_on: date | None = Field(default=None, description="the day the trainer left")
    withdrawal_reason: str | None = None
    erased: bool = False
    first_name: str | None = None
    last_name: str | None = None
    guardian_name: str | None = None
    guardian_consent_on: date | None = None
    notes: str | None = None


class CertificateOut(BaseModel):
    """A credential the credentials service issued to the trainer, and where its printable
    certificate is."""

    credential_id: uuid.UUID
    achievement: str = Field(description="certified, first_session, sessions.5 or peers.100")
    issued_on: date
    verification_url: str = Field(description="the public page the certificate's QR code opens")
    revoked_at: datetime | None = None
    certificate_url: str = Field(default="", description="the A4 PDF (no certificate if revoked)")
