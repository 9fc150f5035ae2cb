"""What enrolment refuses, in the programme's words. The use cases raise these; the edge answers
each kind as problem+json (``yts_chassis.refusals``): a broken rule 422, a conflict with what is
recorded 409, an unknown trainer 404, another school's trainer 403. Each names the field, the
rule and what to do, as a person reads it."""

from __future__ import annotations

import uuid
from datetime import date

from yts_chassis.refusals import Breach, Conflict, NotFound, RuleBroken


class TrainerNotKnown(NotFound):
    def __init__(self, trainer_id: uuid.UUID) -> None:
        super().__init__("trainer", trainer_id)


class SchoolNotKnown(NotFound):
    def __init__(self, school_id: uuid.UUID) -> None:
        super().__init__("school", school_id)


class SchoolNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(Breach("name", "unique", f"a school named {name!r} is registered"))


class CohortAlreadyOpen(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(Breach("name", "unique", f"cohort {name} is already open"))


class CohortNameNotItsYears(RuleBroken):
    """A cohort is named after its school years: 2024-2025 starts in 2024 and ends in 2025."""

    def __init__(self, name: str) -> None:
        super().__init__(
            Breach(
                "name",
                "matches_dates",
                f"cohort {name} must start in {name[:4]} and end in {name[5:]}",
            )
        )


class SchoolNotRegistered(RuleBroken):
    def __init__(self, school_id: uuid.UUID) -> None:
        super().__init__(Breach("school_id", "exists", f"no school with id {school_id}"))


class SchoolNotTakingPart(RuleBroken):
    def __init__(self, school_id: uuid.UUID) -> None:
        super().__init__(Breach("school_id", "active", "the school no longer takes part"))


class CohortNotOpened(RuleBroken):
    def __init__(self, cohort_id: uuid.UUID) -> None:
        super().__init__(Breach("cohort_id", "exists", f"no cohort with id {cohort_id}"))


class CohortClosed(RuleBroken):
    """Closed for enrolment, or past its last day."""

    def __init__(self, cohort_name: str) -> None:
        super().__init__(
            Breach(
                "cohort_id",
                "open_for_enrolment",
                f"cohort {cohort_name} is closed for enrolment",
            )
        )


class ConsentInFuture(RuleBroken):
    def __init__(self) -> None:
        super().__init__(
            Breach(
                "guardian_consent.given_on",
                "not_in_future",
                "the consent date cannot be in the future",
            )
        )


class ConsentOutOfReach(RuleBroken):
    """A consent signed before the school years a pupil can spend in the programme."""

    def __init__(self, cohort_name: str, earliest: date) -> None:
        super().__init__(
            Breach(
                "guardian_consent.given_on",
                "within_consent_reach",
                f"a consent for cohort {cohort_name} is given on {earliest} or later",
            )
        )


class EnrolledInFuture(RuleBroken):
    def __init__(self, enrolled_on: date, today: date) -> None:
        super().__init__(
            Breach(
                "enrolled_on",
                "not_in_future",
                f"{enrolled_on} is in the future (today is {today}); give the day the "
                "trainer was enrolled",
            )
        )


class EnrolledOutsideCohort(RuleBroken):
    def __init__(self, cohort_name: str, starts_on: date, ends_on: date) -> None:
        super().__init__(
            Breach(
                "enrolled_on",
                "within_cohort",
                f"a trainer of cohort {cohort_name} is enrolled on a day from {starts_on} to "
                f"{ends_on}; give the day the enrolment took effect",
            )
        )


class WithdrawnInFuture(RuleBroken):
    def __init__(self, withdrawn_on: date, today: date) -> None:
        super().__init__(
            Breach(
                "withdrawn_on",
                "not_in_future",
                f"{withdrawn_on} is in the future (today is {today}); record a "
                "withdrawal once the trainer has left",
            )
        )


class WithdrawnBeforeEnrolment(RuleBroken):
    def __init__(self, enrolled_on: date) -> None:
        super().__init__(
            Breach(
                "withdrawn_on",
                "not_before_enrolled_on",
                f"the trainer was enrolled on {enrolled_on}; a withdrawal is on that day or later",
            )
        )


class WithdrawnAfterCohort(RuleBroken):
    def __init__(self, cohort_name: str, ends_on: date) -> None:
        super().__init__(
            Breach(
                "withdrawn_on",
                "within_cohort",
                f"cohort {cohort_name} ended on {ends_on}; a withdrawal from it is on that day "
                "or earlier",
            )
        )


class AlreadyEnrolled(Conflict):
    """One active enrolment of a person (school, names, grade) per cohort."""

    def __init__(self, cohort_name: str) -> None:
        super().__init__(
            Breach(
                "first_name",
                "one_active_enrolment",
                f"this person is already enrolled in cohort {cohort_name} at this school",
            )
        )


class NothingToCorrect(RuleBroken):
    def __init__(self) -> None:
        super().__init__(
            Breach("first_name", "missing", "give first_name, last_name or both, as they should be")
        )


class TrainerNotActive(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(
            Breach(
                "status",
                "only_active",
                f"the trainer is {status}; only an active trainer can be withdrawn",
            )
        )


class CredentialNotKnown(NotFound):
    def __init__(self, credential_id: uuid.UUID) -> None:
        super().__init__("credential", credential_id)


class CredentialRevoked(Conflict):
    def __init__(self, credential_id: uuid.UUID) -> None:
        super().__init__(
            Breach(
                "credential_id",
                "not_revoked",
                f"credential {credential_id} was revoked: it has no certificate to print",
            )
        )
