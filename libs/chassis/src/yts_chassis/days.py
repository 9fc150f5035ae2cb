"""The days the APIs read from people: exactly ``YYYY-MM-DD`` (the contracts' ``Day``), in the
years the programme can have records."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from yts_contracts.vocabulary import Day

# The programme began in the 2020s: a year outside these is a typing slip (0205 for 2025) or a
# number read as a date, never a real record or a period anyone reports on.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)


def within_programme_years(day: date) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise PydanticCustomError(
            "date_in_range",
            "must be between {earliest} and {latest}",
            {"earliest": str(EARLIEST_DAY), "latest": str(LATEST_DAY)},
        )
    return day


ProgrammeDay = Annotated[Day, AfterValidator(within_programme_years)]
"""A day of the programme typed by a person: exactly YYYY-MM-DD, years 2000 to 2100."""
