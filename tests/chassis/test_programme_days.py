"""A day a person types into any API is read the same way everywhere: exactly YYYY-MM-DD, in
the years the programme can have records; anything else is refused with the rule it broke."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError
from yts_chassis.days import ProgrammeDay

DAYS = TypeAdapter(ProgrammeDay)


def refusal(value: object) -> tuple[str, str]:
    with pytest.raises(ValidationError) as refused:
        DAYS.validate_python(value)
    (error,) = refused.value.errors()
    return error["type"], error["msg"]


def test_a_day_written_as_yyyy_mm_dd_inside_the_programme_years_is_read() -> None:
    assert DAYS.validate_python("2024-09-16") == date(2024, 9, 16)
    assert DAYS.validate_json('"2100-12-31"') == date(2100, 12, 31)


@pytest.mark.parametrize("value", ["0", 0, "2024-09-16T00:00:00Z", "16.09.2024", "2024-9-16"])
def test_anything_but_yyyy_mm_dd_is_refused_as_not_a_date(value: object) -> None:
    assert refusal(value) == ("iso_date", "must be a date written as YYYY-MM-DD")


@pytest.mark.parametrize("value", ["1999-12-31", "0205-09-01", "2101-01-01"])
def test_a_year_outside_the_programme_is_refused_with_the_range(value: str) -> None:
    assert refusal(value) == ("date_in_range", "must be between 2000-01-01 and 2100-12-31")


def test_the_documented_schema_asks_for_yyyy_mm_dd() -> None:
    schema = DAYS.json_schema()
    assert schema["format"] == "date"
    assert schema["pattern"] == r"^\d{4}-\d{2}-\d{2}$"
