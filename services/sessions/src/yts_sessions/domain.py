"""The rules of module completions and peer sessions: pure functions and value types, no I/O.
A rule that is broken says so as a ``Breach`` (``yts_chassis.refusals``). Milestones are
their own idea: ``yts_sessions.milestones``."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from enum import StrEnum

from yts_chassis.refusals import Breach

__all__ = [
    "CohortDates",
    "SessionStatus",
    "TrainerStatus",
    "completed_on_breach",
    "delivered_on_breach",
    "feedback_breach",
    "is_certified",
    "participants_breach",
    "planned_on_breach",
]


class TrainerStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


class SessionStatus(StrEnum):
    planned = "planned"
    completed = "completed"
    cancelled = "cancelled"


CohortDates = tuple[date, date]
"""First and last day of a cohort: a trainer's training and sessions happen inside them."""


# -- rules of a peer session --------------------------------------------------------------


def is_certified(completed: Collection[str], core: Collection[str]) -> bool:
    """Certified: every core module of the curriculum completed."""
    return set(core) <= set(completed)


def is_certified_by_count(core_completed: int, core_total: int) -> bool:
    """The same from counts: a trainer's core modules completed (each once) of the core."""
    return core_completed >= core_total


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
