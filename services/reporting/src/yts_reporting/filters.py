"""What a view of the indicators selects: a period and the filters a reader asked for.

The period is days in the programme's time zone, both ends included; either end may be open.
District and school select by the school; cohort, grade and gender are categories of
*trainers*: they select trainers, and the sessions that at least one matching trainer
facilitated (see ``indicators.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from typing import Any


class PeriodReversed(ValueError):
    """A period that ends before it starts."""

    def __init__(self, start: date, end: date) -> None:
        super().__init__(f"the period ends ({end}) before it starts ({start})")
        self.start = start
        self.end = end


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    district: str | None = None
    school_id: uuid.UUID | None = None
    cohort_id: uuid.UUID | None = None
    grade: int | None = None
    gender: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise PeriodReversed(self.start, self.end)

    @property
    def on_trainers(self) -> bool:
        return self.cohort_id is not None or self.grade is not None or self.gender is not None

    def narrowed(self, **changes: Any) -> Filters:
        return replace(self, **changes)
