"""The demo programme as data: a pure function of the day and a seed, no I/O.

The programme has the shape of the Young Trainers' School (2023-2025): schools across Almaty's
eight districts (35 at full size), two cohorts, trainers of grades 9-11 certified module by
module over months, peer sessions in Kazakh and Russian, some cancelled, some trainers
withdrawn, and the milestones the sessions service derives from all that.

The API refuses what could not happen: an enrolment, a withdrawal, a module completion and a
session are each dated the day they took place, never in the future and inside the trainer's
cohort. So the demo lays the same programme over the last two school years that have begun,
relative to today (see :func:`demo_cohorts`), and records the whole history with the days it
happened, as records kept on paper are entered later: each trainer enrolled in the first weeks
of the cohort, modules completed one after another from then, sessions once certified, and
withdrawals on the day the trainer left, after everything the trainer did.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

# Almaty's eight districts; 35 schools, weighted roughly by each district's size.
SCHOOLS_PER_DISTRICT = {
    "Alatau": 4,
    "Almaly": 5,
    "Auezov": 6,
    "Bostandyk": 5,
    "Medeu": 4,
    "Nauryzbay": 2,
    "Turksib": 4,
    "Zhetysu": 5,
}
DISTRICTS = tuple(SCHOOLS_PER_DISTRICT)
SCHOOL_KINDS = (
    "School-Gymnasium",
    "School-Lyceum",
    "Secondary School",
    "Gymnasium",
    "Specialised School-Lyceum",
)
FEMALE_NAMES = (
    "Aigerim", "Aruzhan", "Dana", "Madina", "Zhansaya", "Dilnaz", "Ainur", "Kamila",
    "Tomiris", "Saltanat", "Asel", "Ayaulym", "Alina", "Sofia", "Amina", "Inkar",
)  # fmt: skip
MALE_NAMES = (
    "Nurlan", "Daniyar", "Arman", "Yerlan", "Timur", "Alikhan", "Bekzat", "Didar",
    "Sanzhar", "Temirlan", "Islam", "Rustem", "Maksim", "Artem", "Ilyas", "Adil",
)  # fmt: skip
SURNAMES = (
    "Nurlanov", "Sadykov", "Akhmetov", "Zhumabayev", "Omarov", "Iskakov", "Kassymov",
    "Abenov", "Serikov", "Tokhtarov", "Baimukhanov", "Mukanov", "Ivanov", "Petrov",
    "Kim", "Li", "Utegenov", "Dzhaksybekov",
)  # fmt: skip
# (reason code, the coordinator's note, kept inside the sessions service)
CANCELLATION_REASONS = (
    ("school_closure", "School closed for a public holiday."),
    ("schedule_conflict", "The assembly hall was needed for exams."),
    ("school_closure", "Quarantine day declared by the school."),
    ("facilitator_unavailable", "The facilitators were at a city olympiad."),
    ("weather", "Heavy snowfall: classes were held online."),
)
# Withdrawals: (reason, share of trainers); graduation only for grade 11.
LATE_WITHDRAWALS = (("moved_school", 0.015), ("graduated", 0.02), ("personal", 0.01))
EARLY_WITHDRAWAL_SHARE = 0.03
SLOW_TRAINER_SHARE = 0.08
CANCELLED_SHARE = 0.07
SESSION_MINUTES = (45, 45, 60, 80, 90)


@dataclass(frozen=True)
class DemoScale:
    schools: int
    trainers_first_cohort: tuple[int, int]
    trainers_second_cohort: tuple[int, int]
    sessions_per_lead: tuple[int, int]


SCALES = {
    "full": DemoScale(35, (5, 8), (3, 5), (3, 7)),
    "small": DemoScale(4, (3, 4), (2, 2), (1, 2)),
}


@dataclass(frozen=True)
class CohortPlan:
    name: str
    starts_on: date
    ends_on: date

    def body(self) -> dict[str, str]:
        return {
            "name": self.name,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
        }


def demo_cohorts(today: date) -> tuple[CohortPlan, CohortPlan]:
    """The last two school years that have begun by today (named after their years, September
    to June), so that every trainer's enrolment can be dated in its cohort's first weeks:

    - the earlier one has ended (its records are entered after the fact, dated inside it);
    - the current one runs today, so a trainer enrolled today joins it; in July and August it
      is prolonged through the summer until the next school year begins.
    """
    first = today.year if today >= date(today.year, 9, 1) else today.year - 1
    earlier = CohortPlan(f"{first - 1}-{first}", date(first - 1, 9, 1), date(first, 6, 30))
    june = date(first + 1, 6, 30)
    ends_on = june if today <= june else date(first + 1, 8, 31)
    current = CohortPlan(f"{first}-{first + 1}", date(first, 9, 1), ends_on)
    return earlier, current


@dataclass
class SchoolPlan:
    name: str
    district: str
    languages: list[str]
    coordinator: dict[str, str]

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "district": self.district,
            "languages": self.languages,
            "coordinator": self.coordinator,
        }


@dataclass
class TrainerPlan:
    key: int
    school: int
    cohort: int
    first_name: str
    last_name: str
    grade: int
    gender: str
    languages: list[str]
    guardian: str
    consent_on: date
    enrolled_on: date
    modules: list[tuple[str, date]] = field(default_factory=list)
    withdrawal: str | None = None
    withdrawn_on: date | None = None

    def certified_on(self, core_modules: int) -> date | None:
        if len(self.modules) < core_modules:
            return None
        return max(done for _, done in self.modules)

    def body(self, school_id: str, cohort_id: str) -> dict[str, Any]:
        return {
            "school_id": school_id,
            "cohort_id": cohort_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "grade": self.grade,
            "gender": self.gender,
            "languages": self.languages,
            "guardian_consent": {
                "guardian_name": self.guardian,
                "given_on": self.consent_on.isoformat(),
            },
            "enrolled_on": self.enrolled_on.isoformat(),
        }

    def withdrawal_body(self) -> dict[str, str]:
        assert self.withdrawal is not None
        assert self.withdrawn_on is not None
        return {"reason": self.withdrawal, "withdrawn_on": self.withdrawn_on.isoformat()}


@dataclass
class SessionPlan:
    school: int
    cohort: int
    facilitators: list[int]
    topic: str
    language: str
    delivered_on: date
    duration_minutes: int
    participants: dict[str, Any]
    feedback: dict[str, Any]
    cancellation: tuple[str, str] | None = None  # (reason code, note kept in sessions)

    def plan_body(self, school_id: str, facilitator_ids: list[str]) -> dict[str, Any]:
        return {
            "school_id": school_id,
            "topic_module_id": self.topic,
            "facilitator_ids": facilitator_ids,
            "language": self.language,
            "planned_on": self.delivered_on.isoformat(),
        }

    def completion_body(self) -> dict[str, Any]:
        return {
            "delivered_on": self.delivered_on.isoformat(),
            "duration_minutes": self.duration_minutes,
            "participants": self.participants,
            "feedback": self.feedback,
        }


@dataclass
class Plan:
    today: date
    cohorts: tuple[CohortPlan, CohortPlan]
    schools: list[SchoolPlan]
    trainers: list[TrainerPlan]
    sessions: list[SessionPlan]
    core_modules: list[str]

    @property
    def module_completions(self) -> int:
        return sum(len(t.modules) for t in self.trainers)

    @property
    def delivered(self) -> list[SessionPlan]:
        return [s for s in self.sessions if s.cancellation is None]

    @property
    def withdrawals(self) -> list[TrainerPlan]:
        return [t for t in self.trainers if t.withdrawal]


def _in_school_time(day: date) -> bool:
    """Not in the summer holidays nor around the new year."""
    summer = date(day.year, 6, 1) <= day <= date(day.year, 8, 31)
    new_year = (day.month, day.day) >= (12, 30) or (day.month, day.day) <= (1, 8)
    return not summer and not new_year and day.weekday() < 6


def _female(surname: str) -> str:
    return surname if surname in ("Kim", "Li") else surname + "a"


def _school_languages(rng: random.Random) -> list[str]:
    roll = rng.random()
    return ["kk"] if roll < 0.3 else ["ru"] if roll < 0.5 else ["kk", "ru"]


def _districts(count: int) -> list[str]:
    if count == sum(SCHOOLS_PER_DISTRICT.values()):
        return [d for d, n in SCHOOLS_PER_DISTRICT.items() for _ in range(n)]
    return [DISTRICTS[i % len(DISTRICTS)] for i in range(count)]


def _schools(rng: random.Random, count: int) -> list[SchoolPlan]:
    numbers = rng.sample(range(1, 211), count)
    schools = []
    for number, district in zip(numbers, _districts(count), strict=True):
        languages = _school_languages(rng)
        locale = "kk" if "kk" in languages and rng.random() < 0.6 else "ru"
        if rng.random() < 0.05:
            locale = "en"
        surname = _female(rng.choice(SURNAMES))
        schools.append(
            SchoolPlan(
                name=f"{rng.choice(SCHOOL_KINDS)} No. {number}",
                district=district,
                languages=languages,
                coordinator={
                    "name": f"{rng.choice(FEMALE_NAMES)[0]}. {surname}",
                    "email": f"deputy.{number}@schools.example.org",
                    "locale": locale,
                },
            )
        )
    return schools


def _completions(
    rng: random.Random, modules: list[str], start: date, today: date, stop_after: int
) -> list[tuple[str, date]]:
    """Core modules one after another from the enrolment, a week to three and a half apart;
    only those done by today are recorded."""
    done: list[tuple[str, date]] = []
    day = start + timedelta(days=rng.randint(10, 35))
    for module in modules[:stop_after]:
        if day > today:
            break
        done.append((module, day))
        day += timedelta(days=rng.randint(8, 24))
    return done


def _trainers(
    rng: random.Random,
    schools: list[SchoolPlan],
    cohorts: tuple[CohortPlan, CohortPlan],
    scale: DemoScale,
    modules: list[str],
    today: date,
) -> list[TrainerPlan]:
    trainers: list[TrainerPlan] = []
    for school_key, school in enumerate(schools):
        taken: set[tuple[str, str, int]] = set()
        for cohort_key, (low, high) in enumerate(
            (scale.trainers_first_cohort, scale.trainers_second_cohort)
        ):
            cohort = cohorts[cohort_key]
            for _ in range(rng.randint(low, high)):
                gender = rng.choices(("female", "male", "undisclosed"), (55, 40, 5))[0]
                while True:
                    female = gender == "female" or (gender == "undisclosed" and rng.random() < 0.5)
                    first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
                    surname = rng.choice(SURNAMES)
                    last = _female(surname) if female else surname
                    grade = rng.choices((9, 10, 11), (30, 40, 30))[0]
                    if (first, last, grade) not in taken:
                        taken.add((first, last, grade))
                        break
                languages = list(school.languages)
                if rng.random() < 0.3:
                    languages.append("en")
                early = rng.random() < EARLY_WITHDRAWAL_SHARE
                slow = rng.random() < SLOW_TRAINER_SHARE
                stop_after = (
                    rng.randint(1, 3)
                    if early
                    else rng.randint(2, len(modules) - 1)
                    if slow
                    else len(modules)
                )
                consent = min(today, cohort.starts_on - timedelta(days=rng.randint(3, 25)))
                enrolled_on = min(today, cohort.starts_on + timedelta(days=rng.randint(0, 20)))
                trainers.append(
                    TrainerPlan(
                        key=len(trainers),
                        school=school_key,
                        cohort=cohort_key,
                        first_name=first,
                        last_name=last,
                        grade=grade,
                        gender=gender,
                        languages=languages,
                        guardian=f"{rng.choice(FEMALE_NAMES + MALE_NAMES)} {surname}",
                        consent_on=consent,
                        enrolled_on=enrolled_on,
                        modules=_completions(rng, modules, enrolled_on, today, stop_after),
                        withdrawal=rng.choice(("personal", "moved_school")) if early else None,
                    )
                )
    for trainer in trainers:
        if trainer.withdrawal:
            continue
        for reason, share in LATE_WITHDRAWALS:
            if reason == "graduated" and trainer.grade != 11:
                continue
            if rng.random() < share:
                trainer.withdrawal = reason
                break
    return trainers


def _participants(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    total = rng.randint(12, 32)
    unstated = rng.choice((0, 0, 0, 1, 2))
    female = rng.randint((total - unstated) // 2 - 3, (total - unstated) // 2 + 3)
    female = max(0, min(female, total - unstated))
    male = total - unstated - female
    low_grade = rng.randint(5, 9)
    first = rng.randint(total // 3, total)
    by_grade = {str(low_grade): first}
    if total - first:
        by_grade[str(low_grade + 1)] = total - first
    participants = {"total": total, "female": female, "male": male, "by_grade": by_grade}
    if rng.random() < 0.1:
        return participants, {"responses": 0, "average_rating": None}
    responses = max(1, total - rng.randint(0, 6))
    rating = round(rng.triangular(3.4, 5.0, 4.6), 1)
    return participants, {"responses": responses, "average_rating": rating}


def _sessions(
    rng: random.Random,
    schools: list[SchoolPlan],
    cohorts: tuple[CohortPlan, CohortPlan],
    trainers: list[TrainerPlan],
    scale: DemoScale,
    modules: list[str],
    today: date,
) -> list[SessionPlan]:
    sessions: list[SessionPlan] = []
    core = len(modules)
    for lead in trainers:
        certified = lead.certified_on(core)
        if certified is None:
            continue
        cohort = cohorts[lead.cohort]
        first_day = certified + timedelta(days=3)
        last_day = min(today, cohort.ends_on)
        if first_day > last_day:
            continue
        peers = [
            t
            for t in trainers
            if t.school == lead.school
            and t.cohort == lead.cohort
            and t.key != lead.key
            and t.certified_on(core) is not None
        ]
        school = schools[lead.school]
        spoken = [lang for lang in ("kk", "ru") if lang in school.languages]
        for _ in range(rng.randint(*scale.sessions_per_lead)):
            day = first_day + timedelta(days=rng.randint(0, (last_day - first_day).days))
            if not _in_school_time(day):
                continue
            able = [t for t in peers if (t.certified_on(core) or today) < day]
            helpers = rng.sample(able, min(len(able), rng.choice((0, 1, 1, 2))))
            participants, feedback = _participants(rng)
            language = "kk" if spoken == ["kk", "ru"] and rng.random() < 0.55 else spoken[-1]
            sessions.append(
                SessionPlan(
                    school=lead.school,
                    cohort=lead.cohort,
                    facilitators=[lead.key, *(t.key for t in helpers)],
                    topic=rng.choice(modules),
                    language=language,
                    delivered_on=day,
                    duration_minutes=rng.choice(SESSION_MINUTES),
                    participants=participants,
                    feedback=feedback,
                    cancellation=rng.choice(CANCELLATION_REASONS)
                    if rng.random() < CANCELLED_SHARE
                    else None,
                )
            )
    sessions.sort(key=lambda s: s.delivered_on)
    return sessions


def _date_withdrawals(
    rng: random.Random,
    cohorts: tuple[CohortPlan, CohortPlan],
    trainers: list[TrainerPlan],
    sessions: list[SessionPlan],
    today: date,
) -> None:
    """Date each withdrawal on the day the trainer left: after everything the trainer did
    (enrolment, modules, sessions), by today and by the cohort's end. A graduation happens at
    the end of the school year: one not reached yet has not happened, and the trainer stays."""
    last_session: dict[int, date] = {}
    for session in sessions:
        for key in session.facilitators:
            last_session[key] = max(
                last_session.get(key, session.delivered_on), session.delivered_on
            )
    for trainer in trainers:
        if not trainer.withdrawal:
            continue
        cohort = cohorts[trainer.cohort]
        last = max(
            [trainer.enrolled_on, *(done for _, done in trainer.modules)]
            + ([last_session[trainer.key]] if trainer.key in last_session else [])
        )
        latest = min(today, cohort.ends_on)
        if trainer.withdrawal == "graduated":
            graduation = date(cohort.ends_on.year, 5, 25)
            if graduation > latest:
                trainer.withdrawal = None
                continue
            day = max(last, graduation) + timedelta(days=rng.randint(0, 20))
        else:
            day = last + timedelta(days=rng.randint(7, 60))
        trainer.withdrawn_on = max(last, min(day, latest))


def build_plan(
    today: date, core_modules: list[str], scale: DemoScale = SCALES["full"], seed: int = 2023
) -> Plan:
    """The whole programme as data (no I/O): the same seed and day give the same programme."""
    rng = random.Random(seed)
    cohorts = demo_cohorts(today)
    schools = _schools(rng, scale.schools)
    trainers = _trainers(rng, schools, cohorts, scale, core_modules, today)
    sessions = _sessions(rng, schools, cohorts, trainers, scale, core_modules, today)
    _date_withdrawals(rng, cohorts, trainers, sessions, today)
    return Plan(today, cohorts, schools, trainers, sessions, list(core_modules))
