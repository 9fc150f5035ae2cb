"""Which targets a view is compared with, and how they were made.

- No district or school filter: the programme's targets (configuration).
- A school (its filter, or a coordinator's token): the school's targets, configured, else the
  programme's target divided by the programme's number of schools (its
  ``schools_participating`` target, else the schools known to reporting), rounded up; the
  average rating keeps the programme's target. "Schools participating" has none (it is 0 or 1).
- A district: its configured targets, else the sum of its registered schools' targets
  (schools participating: its number of schools).

A target of 0 (or a sum over no schools) is no target: the view shows none.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from yts_contracts.vocabulary import District

from yts_reporting.filters import Filters
from yts_reporting.i18n import Messages
from yts_reporting.indicators import MEASURES, SchoolRow
from yts_reporting.settings import (
    DistrictTargets,
    ProgrammeTargets,
    ReportingSettings,
    SchoolTargets,
)

Level = Literal["programme", "district", "school"]
# The measures a school's share of the programme's target is taken of: all but the number of
# schools (a school's is 0 or 1) and the average rating (a school keeps the programme's).
COUNTS = tuple(m for m in MEASURES if m not in ("schools_participating", "average_rating"))
Goal = int | float | None


@dataclass(frozen=True)
class AppliedTargets:
    """The targets one view is compared with: a value per measure (None: no target)."""

    level: Level
    values: Mapping[str, Goal]
    district: str | None = None
    school_id: uuid.UUID | None = None
    schools: int | None = None  # a district's registered schools, whose targets it sums
    shared_among: int | None = None  # the programme's number of schools a target is split by
    configured: tuple[str, ...] = ()  # measures whose target here is set in configuration

    def of(self, measure: str) -> Goal:
        return self.values.get(measure)


def _goal(value: Goal) -> Goal:
    return value or None  # 0: no target


@dataclass(frozen=True)
class TargetPlan:
    """The configured targets of the programme, of every school and of districts."""

    programme: ProgrammeTargets
    school: SchoolTargets
    districts: Mapping[District, DistrictTargets]

    @classmethod
    def of(cls, settings: ReportingSettings) -> TargetPlan:
        return cls(settings.targets, settings.school_targets, settings.district_targets)

    def for_programme(self) -> AppliedTargets:
        return AppliedTargets("programme", {m: _goal(getattr(self.programme, m)) for m in MEASURES})

    def applying_to(self, filters: Filters, schools: Sequence[SchoolRow]) -> AppliedTargets:
        """The targets of the view ``filters`` selects: the narrowest of school, district,
        programme. ``schools`` are the schools registered with reporting."""
        if filters.school_id is not None:
            return self.for_school(filters.school_id, schools)
        if filters.district is not None:
            return self.for_district(filters.district, schools)
        return self.for_programme()

    def _shared_among(self, schools: Sequence[SchoolRow]) -> int | None:
        return self.programme.schools_participating or len(schools) or None

    def _one_school(self, shared_among: int | None) -> tuple[dict[str, Goal], list[str]]:
        values: dict[str, Goal] = {"schools_participating": None}  # one school: 0 or 1
        configured: list[str] = []
        for measure in MEASURES:
            if measure == "schools_participating":
                continue
            override = getattr(self.school, measure)
            whole = getattr(self.programme, measure)
            if override is not None:
                values[measure] = _goal(override)
                configured.append(measure)
            elif measure not in COUNTS:  # the average rating: the programme's
                values[measure] = _goal(whole)
            else:
                values[measure] = (
                    math.ceil(whole / shared_among) if whole and shared_among else None
                )
        return values, configured

    def for_school(self, school_id: uuid.UUID, schools: Sequence[SchoolRow]) -> AppliedTargets:
        shared_among = self._shared_among(schools)
        values, configured = self._one_school(shared_among)
        return AppliedTargets(
            "school",
            values,
            school_id=school_id,
            shared_among=shared_among,
            configured=tuple(configured),
        )

    def for_district(self, district: str, schools: Sequence[SchoolRow]) -> AppliedTargets:
        shared_among = self._shared_among(schools)
        per_school, configured = self._one_school(shared_among)
        count = sum(1 for s in schools if s.district == district)
        values: dict[str, Goal] = {}
        for measure in COUNTS:
            one = per_school[measure]
            values[measure] = one * count if one and count else None
        values["schools_participating"] = (
            count or None if self.programme.schools_participating else None
        )
        values["average_rating"] = per_school["average_rating"] if count else None
        override = self.districts.get(District(district))
        if override is not None:
            for measure in MEASURES:
                value = getattr(override, measure)
                if value is not None:
                    values[measure] = _goal(value)
                    if measure not in configured:
                        configured.append(measure)
        return AppliedTargets(
            "district",
            values,
            district=district,
            schools=count,
            shared_among=shared_among,
            configured=tuple(m for m in MEASURES if m in configured),
        )


def describe(applied: AppliedTargets, t: Messages) -> str:
    """Which targets apply, in a sentence of the reader's language."""
    if applied.level == "programme":
        return t("targets_note.programme")
    if not any(v for v in applied.values.values()):
        return t("targets_note.none")
    parts = []
    if applied.shared_among is not None and applied.level == "district":
        parts.append(
            t(
                "targets_note.district",
                district=t.district(applied.district),
                schools=applied.schools,
                shared_among=applied.shared_among,
            )
        )
    elif applied.shared_among is not None:
        parts.append(t("targets_note.school", shared_among=applied.shared_among))
    if applied.configured:
        names = ", ".join(t(f"indicator.{m}") for m in applied.configured)
        parts.append(t("targets_note.configured", indicators=names))
    return " ".join(parts)
