"""The sessions domain's rules as pure functions (no broker, no database, no HTTP): what a
module completion and a peer session may say, and when a trainer is certified. The HTTP tests
show the same rules as 422 problems; these pin each rule's field, name and boundary."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yts_chassis.refusals import Breach
from yts_sessions import domain

TODAY = date(2025, 6, 15)
COHORT = (date(2025, 3, 1), date(2025, 8, 31))
OTHER_COHORT = (date(2025, 5, 1), date(2025, 12, 31))


def rule_of(breach: Breach | None) -> tuple[str, str] | None:
    return None if breach is None else (breach.field, breach.rule)


# -- certification --------------------------------------------------------------------------


def test_a_trainer_is_certified_once_every_core_module_is_completed() -> None:
    core = ["M1", "M2", "M3"]
    assert not domain.is_certified([], core)
    assert not domain.is_certified(["M1", "M2"], core)
    assert domain.is_certified(["M3", "M1", "M2"], core)
    # Optional modules neither help nor hinder.
    assert not domain.is_certified(["M1", "M2", "OPT"], core)
    assert domain.is_certified(["M1", "M2", "M3", "OPT"], core)


@given(st.sets(st.sampled_from("ABCDEFG")), st.sets(st.sampled_from("ABCDEFG"), min_size=1))
def test_certified_means_the_core_is_a_subset_of_what_was_completed(
    completed: set[str], core: set[str]
) -> None:
    assert domain.is_certified(completed, core) == core.issubset(completed)


# -- participants and feedback --------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "female", "male", "by_grade", "expected"),
    [
        (10, 4, 6, {}, None),
        (10, 3, 3, {"5": 4, "6": 6}, None),  # unstated genders count only in total
        (0, 0, 0, {}, None),
        (10, 5, 6, {}, ("participants.female", "female_plus_male_within_total")),
        (10, 0, 0, {"5": 6, "6": 5}, ("participants.by_grade", "within_total")),
        # The gender rule is reported first when both are broken.
        (1, 1, 1, {"5": 2}, ("participants.female", "female_plus_male_within_total")),
    ],
)
def test_participants_add_up_within_the_total(
    total: int,
    female: int,
    male: int,
    by_grade: dict[str, int],
    expected: tuple[str, str] | None,
) -> None:
    assert rule_of(domain.participants_breach(total, female, male, by_grade)) == expected


@pytest.mark.parametrize(
    ("responses", "rating", "total", "expected"),
    [
        (0, None, 10, None),
        (10, 4.5, 10, None),
        (1, 1.0, 1, None),
        (11, 4.0, 10, ("feedback.responses", "within_participants")),
        (0, 3.0, 10, ("feedback.average_rating", "null_without_responses")),
        (3, None, 10, ("feedback.average_rating", "required_with_responses")),
    ],
)
def test_feedback_is_at_most_one_form_per_participant_with_a_rating_when_forms_came_back(
    responses: int, rating: float | None, total: int, expected: tuple[str, str] | None
) -> None:
    assert rule_of(domain.feedback_breach(responses, rating, total)) == expected


def test_a_breach_tells_the_person_what_to_do() -> None:
    breach = domain.participants_breach(10, 6, 6, {})
    assert breach is not None
    assert "6 + 6" in breach.message
    assert "(10)" in breach.message


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivered_on", "cohorts", "expected"),
    [
        (TODAY, [COHORT], None),
        (COHORT[0], [COHORT], None),  # the cohort's first day is inside it
        (COHORT[0], [], None),  # no facilitator cohort to check
        (TODAY + timedelta(days=1), [COHORT], ("delivered_on", "not_in_future")),
        (COHORT[0] - timedelta(days=1), [COHORT], ("delivered_on", "within_cohort")),
        # Every facilitator's cohort must hold the day.
        (date(2025, 4, 1), [COHORT, OTHER_COHORT], ("delivered_on", "within_cohort")),
        (date(2025, 5, 1), [COHORT, OTHER_COHORT], None),
    ],
)
def test_a_session_is_recorded_after_it_took_place_inside_each_facilitators_cohort(
    delivered_on: date, cohorts: list[domain.CohortDates], expected: tuple[str, str] | None
) -> None:
    assert rule_of(domain.delivered_on_breach(delivered_on, TODAY, cohorts)) == expected


def test_a_session_delivered_in_the_future_is_refused_before_its_cohort_is_checked() -> None:
    far = date(2030, 1, 1)
    breach = domain.delivered_on_breach(far, TODAY, [COHORT])
    assert rule_of(breach) == ("delivered_on", "not_in_future")


@pytest.mark.parametrize(
    ("planned_on", "cohorts", "expected"),
    [
        (date(2025, 8, 31), [COHORT], None),  # the last day is inside
        (date(2025, 3, 1), [COHORT], None),  # a past day is allowed
        (date(2025, 9, 1), [COHORT], ("planned_on", "within_cohort")),
        (date(2025, 4, 1), [COHORT, OTHER_COHORT], ("planned_on", "within_cohort")),
    ],
)
def test_a_session_is_planned_for_a_day_its_cohorts_run(
    planned_on: date, cohorts: list[domain.CohortDates], expected: tuple[str, str] | None
) -> None:
    assert rule_of(domain.planned_on_breach(planned_on, cohorts)) == expected


@pytest.mark.parametrize(
    ("completed_on", "expected"),
    [
        (TODAY, None),
        (COHORT[0], None),
        (COHORT[1] + timedelta(days=1), ("completed_on", "not_in_future")),  # after TODAY too
        (TODAY + timedelta(days=1), ("completed_on", "not_in_future")),
        (COHORT[0] - timedelta(days=1), ("completed_on", "not_before_cohort")),
    ],
)
def test_a_module_is_completed_during_the_programme_and_recorded_afterwards(
    completed_on: date, expected: tuple[str, str] | None
) -> None:
    assert rule_of(domain.completed_on_breach(completed_on, TODAY, COHORT)) == expected


def test_a_module_completed_after_its_cohort_ended_is_accepted_when_not_in_the_future() -> None:
    cohort = (date(2024, 1, 1), date(2024, 6, 30))
    assert domain.completed_on_breach(date(2024, 9, 1), TODAY, cohort) is None
