"""trainer.enrolled.v1 and trainer.withdrawn.v1 carry the day they took effect (issue 14) as
optional fields, so every earlier event stays valid; a tolerant reader of an older event takes
the day of its enrolled_at (withdrawn_at) in the programme's time zone."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from yts_contracts.enrolment import TrainerEnrolled, TrainerWithdrawn

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
ALMATY = ZoneInfo("Asia/Almaty")


def fixture(event_type: str, name: str) -> dict[str, object]:
    path = CONTRACTS / "fixtures" / event_type / f"{name}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def schema(event_type: str) -> dict[str, object]:
    return dict(json.loads((CONTRACTS / "schemas" / f"{event_type}.json").read_text()))


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("yts.enrolment.trainer.enrolled.v1", "enrolled_on"),
        ("yts.enrolment.trainer.withdrawn.v1", "withdrawn_on"),
    ],
)
def test_the_day_it_took_effect_is_an_optional_date_in_the_schema(
    event_type: str, field: str
) -> None:
    found = schema(event_type)
    assert field in found["properties"]  # type: ignore[operator]
    assert field not in found["required"]  # type: ignore[operator]


def test_an_enrolment_typed_later_reads_the_day_it_took_effect() -> None:
    typed_later = TrainerEnrolled.model_validate(
        fixture("yts.enrolment.trainer.enrolled.v1", "entered-from-paper-weeks-later")
    )
    assert typed_later.enrolled_on == date(2023, 9, 11)
    assert typed_later.enrolled_day(ALMATY) == date(2023, 9, 11)
    left = TrainerWithdrawn.model_validate(
        fixture("yts.enrolment.trainer.withdrawn.v1", "personal-entered-from-paper")
    )
    assert left.withdrawn_day(ALMATY) == date(2024, 3, 14)


def test_an_older_event_took_effect_on_the_almaty_day_of_its_time() -> None:
    older = TrainerEnrolled.model_validate(
        {
            **fixture("yts.enrolment.trainer.enrolled.v1", "grade-9-male-ru"),
            "enrolled_at": "2023-09-19T20:05:00Z",  # already the 20th in Almaty
        }
    )
    assert older.enrolled_on is None
    assert older.enrolled_day(ALMATY) == date(2023, 9, 20)
    left = TrainerWithdrawn.model_validate(
        fixture("yts.enrolment.trainer.withdrawn.v1", "graduated")
    )
    assert left.withdrawn_on is None
    assert left.withdrawn_day(ALMATY) == date(2025, 5, 30)
