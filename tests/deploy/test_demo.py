"""The demo programme as data: on any day of the year it asks the API only for what the
services' own rules accept (checked with those very rules), and it has the programme's shape."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from yts_deploy.demo import DISTRICTS, SCALES, Plan, build_plan, demo_cohorts
from yts_enrolment.domain import (
    cohort_accepts_enrolment,
    cohort_name_matches_dates,
    earliest_consent_for,
    enrolled_on_breach,
    withdrawn_on_breach,
)
from yts_sessions.curriculum import load_curriculum
from yts_sessions.domain import delivered_on_breach, feedback_breach, participants_breach
from yts_sessions.settings import CURRICULUM

CORE = [module.id for module in load_curriculum(CURRICULUM).modules if module.core]
DAYS = [date(2026, 1, 1) + timedelta(days=n) for n in range(0, 366, 7)] + [
    date(2026, 6, 30),
    date(2026, 7, 1),
    date(2026, 8, 31),
    date(2026, 9, 1),
    date(2026, 12, 31),
]
SAMPLE_DAYS = [date(2026, 11, 26), date(2026, 1, 3), date(2026, 7, 15), date(2026, 9, 2)]


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_both_demo_cohorts_have_begun_and_the_current_one_takes_an_enrolment_today(
    today: date,
) -> None:
    for cohort in demo_cohorts(today):
        assert cohort_name_matches_dates(cohort.name, cohort.starts_on, cohort.ends_on)
        assert cohort.starts_on < cohort.ends_on
        # Begun: its trainers' enrolments can be dated in its first weeks.
        assert enrolled_on_breach(cohort.starts_on, today, cohort.starts_on, cohort.ends_on) is None
        assert cohort_accepts_enrolment(True, cohort.ends_on, cohort.starts_on)
    earlier, current = demo_cohorts(today)
    assert earlier.name != current.name
    assert earlier.ends_on < current.starts_on
    # A trainer enrolled today (README's walk-through, the demo test's webhook) joins it.
    assert enrolled_on_breach(today, today, current.starts_on, current.ends_on) is None


@pytest.fixture(scope="module", params=SAMPLE_DAYS, ids=str)
def plan(request: pytest.FixtureRequest) -> Plan:
    return build_plan(request.param, CORE)


def test_every_date_the_demo_sends_is_in_the_past(plan: Plan) -> None:
    for trainer in plan.trainers:
        assert trainer.consent_on <= plan.today
        assert trainer.enrolled_on <= plan.today
        assert all(done <= plan.today for _, done in trainer.modules)
        assert trainer.withdrawn_on is None or trainer.withdrawn_on <= plan.today
    assert all(session.delivered_on <= plan.today for session in plan.sessions)


def test_every_enrolment_and_withdrawal_is_dated_as_enrolment_accepts_and_as_it_happened(
    plan: Plan,
) -> None:
    facilitated: dict[int, list[date]] = {}
    for session in plan.sessions:
        for key in session.facilitators:
            facilitated.setdefault(key, []).append(session.delivered_on)
    for trainer in plan.trainers:
        cohort = plan.cohorts[trainer.cohort]
        assert (
            enrolled_on_breach(trainer.enrolled_on, plan.today, cohort.starts_on, cohort.ends_on)
            is None
        )
        assert cohort_accepts_enrolment(True, cohort.ends_on, trainer.enrolled_on)
        # In the cohort's first weeks, after the guardian's consent; modules come after it.
        assert trainer.enrolled_on <= cohort.starts_on + timedelta(days=21)
        assert earliest_consent_for(cohort.starts_on) <= trainer.consent_on <= trainer.enrolled_on
        assert all(trainer.enrolled_on < done for _, done in trainer.modules)
        assert (trainer.withdrawal is None) == (trainer.withdrawn_on is None)
        if trainer.withdrawn_on is not None:
            assert (
                withdrawn_on_breach(
                    trainer.withdrawn_on, plan.today, trainer.enrolled_on, cohort.ends_on
                )
                is None
            )
            # The trainer left after everything the trainer did.
            done = [d for _, d in trainer.modules] + facilitated.get(trainer.key, [])
            assert all(day <= trainer.withdrawn_on for day in done)
    # A history, not the loading day: enrolments spread over the cohorts' first weeks (only a
    # cohort begun in the last three weeks has trainers enrolled today).
    assert len({t.enrolled_on for t in plan.trainers}) > 10
    settled = [
        t
        for t in plan.trainers
        if plan.cohorts[t.cohort].starts_on.toordinal() + 21 < plan.today.toordinal()
    ]
    assert settled
    assert all(t.enrolled_on < plan.today for t in settled)


def test_every_session_is_one_the_sessions_service_accepts(plan: Plan) -> None:
    trainers = {t.key: t for t in plan.trainers}
    for session in plan.sessions:
        facilitators = [trainers[key] for key in session.facilitators]
        assert 1 <= len(facilitators) <= 3
        assert len(set(session.facilitators)) == len(facilitators)
        cohorts = [plan.cohorts[t.cohort] for t in facilitators]
        span = [(c.starts_on, c.ends_on) for c in cohorts]
        assert delivered_on_breach(session.delivered_on, plan.today, span) is None
        for trainer in facilitators:
            assert trainer.school == session.school
            certified = trainer.certified_on(len(CORE))
            assert certified is not None
            assert certified < session.delivered_on  # certified before facilitating
        people = session.participants
        assert 1 <= people["total"] <= 60
        assert (
            participants_breach(
                people["total"], people["female"], people["male"], people["by_grade"]
            )
            is None
        )
        feedback = session.feedback
        assert (
            feedback_breach(feedback["responses"], feedback["average_rating"], people["total"])
            is None
        )


def test_no_person_is_enrolled_twice_in_a_cohort_of_one_school(plan: Plan) -> None:
    people = Counter(
        (t.school, t.cohort, t.first_name, t.last_name, t.grade) for t in plan.trainers
    )
    assert max(people.values()) == 1


def test_the_full_programme_has_the_shape_of_the_young_trainers_school(plan: Plan) -> None:
    assert len(plan.schools) == 35
    assert {s.district for s in plan.schools} == set(DISTRICTS)
    assert len({s.name for s in plan.schools}) == 35
    assert {t.grade for t in plan.trainers} == {9, 10, 11}
    assert {t.cohort for t in plan.trainers} == {0, 1}
    assert 250 <= len(plan.trainers) <= 450
    assert {s.language for s in plan.delivered} == {"kk", "ru"}
    assert len(plan.sessions) - len(plan.delivered) > 0  # some were cancelled
    assert {t.withdrawal for t in plan.withdrawals} >= {"personal", "moved_school"}
    assert all(t.grade == 11 for t in plan.withdrawals if t.withdrawal == "graduated")
    certified = [t for t in plan.trainers if t.certified_on(len(CORE))]
    assert len(certified) > len(plan.trainers) // 3
    spans = [max(d for _, d in t.modules) - min(d for _, d in t.modules) for t in certified]
    assert min(spans) >= timedelta(days=30)  # certification takes months, not a day
    months = {s.delivered_on.replace(day=1) for s in plan.delivered}
    assert len(months) >= 2  # early January: the first trainers certified in the autumn


def test_the_same_day_and_seed_give_the_same_programme() -> None:
    today = date(2026, 11, 26)
    assert build_plan(today, CORE) == build_plan(today, CORE)
    assert build_plan(today, CORE, seed=1) != build_plan(today, CORE)


def test_the_small_programme_still_delivers_sessions() -> None:
    plan = build_plan(date(2026, 11, 26), CORE, SCALES["small"])
    assert len(plan.schools) == 4
    assert {s.district for s in plan.schools} == set(DISTRICTS[:4])  # one school in each
    assert plan.delivered


# The sizes docs/operations.md states for the full demo (every day of 2026-2027 computed once).
DOCUMENTED_SIZES = {
    "trainers": (348, 392),
    "certified": (185, 340),
    "peer sessions": (613, 1288),
    "delivered": (568, 1192),
    "cancelled": (32, 127),
    "withdrawals": (11, 29),
}


def test_operations_md_states_the_demos_sizes_as_the_plan_makes_them() -> None:
    from pathlib import Path

    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    row = " | ".join(f"{low:,}\N{EN DASH}{high:,}" for low, high in DOCUMENTED_SIZES.values())
    assert f"| {row} |" in guide
    for today in DAYS[::4]:
        plan = build_plan(today, CORE)
        sizes = {
            "trainers": len(plan.trainers),
            "certified": sum(1 for t in plan.trainers if t.certified_on(len(CORE))),
            "peer sessions": len(plan.sessions),
            "delivered": len(plan.delivered),
            "cancelled": len(plan.sessions) - len(plan.delivered),
            "withdrawals": len(plan.withdrawals),
        }
        outside = {
            name: size
            for name, size in sizes.items()
            if not DOCUMENTED_SIZES[name][0] <= size <= DOCUMENTED_SIZES[name][1]
        }
        assert outside == {}, today
