"""Reporting's read side for the routes: indicators, months, breakdowns, one school. Each
function reads one generation in one snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from yts_chassis.database import Database

from yts_reporting.filters import Filters
from yts_reporting.indicators import (
    CohortRow,
    Dimension,
    ReadModel,
    SchoolRow,
    Totals,
    snapshot,
)
from yts_reporting.schemas import (
    Indicators,
    IndicatorValues,
    MonthIndicators,
    MonthlyIndicators,
    SchoolOut,
    SchoolSummary,
    TrainersByCategory,
    filters_of,
    indicator_values,
    period_of,
    targets_applied,
)
from yts_reporting.targets import AppliedTargets, TargetPlan


class SchoolNotKnown(LookupError):
    """A school reporting has no ``school.registered`` of (yet)."""

    def __init__(self, school_id: uuid.UUID) -> None:
        super().__init__(f"no school {school_id} known to reporting")
        self.school_id = school_id


@dataclass(frozen=True)
class BreakdownRow:
    key: Any  # district name, school id, grade, gender or YYYY-MM; None: not known yet
    label: str
    district: str | None
    totals: Totals


@dataclass
class Overview:
    """Everything the dashboard and the spreadsheet show, read in one snapshot."""

    overall: Totals
    months: list[tuple[str, Totals]]
    by_district: list[BreakdownRow]
    by_school: list[BreakdownRow]
    targets: AppliedTargets
    by_grade: list[BreakdownRow] = field(default_factory=list)
    by_gender: list[BreakdownRow] = field(default_factory=list)
    trainers_grid: dict[tuple[int, str], int] = field(default_factory=dict)
    schools: list[SchoolRow] = field(default_factory=list)
    cohorts: list[CohortRow] = field(default_factory=list)


def month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


async def _months(read_model: ReadModel, filters: Filters) -> list[tuple[str, Totals]]:
    """Every month from the first to the last holding a fact (empty months included)."""
    found = {
        str(k): v for k, v in (await read_model.totals(filters, "month")).items() if k is not None
    }
    if not found:
        return []
    return [(m, found.get(m, Totals())) for m in month_range(min(found), max(found))]


async def _breakdown(
    read_model: ReadModel, filters: Filters, dimension: Dimension, schools: Sequence[SchoolRow] = ()
) -> list[BreakdownRow]:
    """Totals by ``dimension``; school rows are named from ``schools`` (read once by the caller)."""
    rows = await read_model.totals(filters, dimension)
    if dimension == "school":
        by_id = {s.school_id: s for s in schools}
        out = []
        for key, totals in rows.items():
            known = by_id.get(key)
            out.append(
                BreakdownRow(
                    key=key,
                    label=known.name if known else str(key),
                    district=known.district if known else None,
                    totals=totals,
                )
            )
        return sorted(out, key=lambda r: (r.district or "~", r.label))
    # By the key itself: grades as numbers (9, 10, 11), months and names as text; unknown last.
    ordered = sorted(rows.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return [
        BreakdownRow(
            key=key,
            label="" if key is None else str(key),
            district=str(key) if dimension == "district" and key is not None else None,
            totals=totals,
        )
        for key, totals in ordered
    ]


async def _targets(read_model: ReadModel, filters: Filters, plan: TargetPlan) -> AppliedTargets:
    if filters.school_id is None and filters.district is None:
        return plan.for_programme()
    return plan.applying_to(filters, await read_model.schools())


async def indicators(db: Database, filters: Filters, plan: TargetPlan) -> Indicators:
    async with snapshot(db) as read_model:
        totals = await read_model.overall(filters)
        targets = await _targets(read_model, filters, plan)
    return Indicators(
        period=period_of(filters),
        filters=filters_of(filters),
        targets=targets_applied(targets),
        **indicator_values(totals, targets),
    )


async def monthly(db: Database, filters: Filters, plan: TargetPlan) -> MonthlyIndicators:
    async with snapshot(db) as read_model:
        months = await _months(read_model, filters)
        targets = await _targets(read_model, filters, plan)
    return MonthlyIndicators(
        period=period_of(filters),
        filters=filters_of(filters),
        targets=targets_applied(targets),
        months=[
            MonthIndicators(month=month, **indicator_values(totals, targets))
            for month, totals in months
        ],
    )


async def school_summary(
    db: Database, school_id: uuid.UUID, filters: Filters, plan: TargetPlan
) -> SchoolSummary:
    """One school's indicators; ``SchoolNotKnown`` when reporting does not know the school."""
    scoped = filters.narrowed(school_id=school_id)
    async with snapshot(db) as read_model:
        schools = await read_model.schools()
        found = [s for s in schools if s.school_id == school_id]
        if not found:
            raise SchoolNotKnown(school_id)
        totals = await read_model.overall(scoped)
        grid = await read_model.trainers_by_grade_and_gender(scoped)
    school = found[0]
    targets = plan.for_school(school_id, schools)
    return SchoolSummary(
        school=SchoolOut(
            school_id=school.school_id,
            name=school.name,
            district=school.district,
            registered_at=school.registered_at,
        ),
        period=period_of(filters),
        targets=targets_applied(targets),
        indicators=IndicatorValues(**indicator_values(totals, targets)),
        trainers_by_grade_and_gender=[
            TrainersByCategory(grade=grade, gender=gender, trainers=n)
            for (grade, gender), n in sorted(grid.items())
        ],
    )


async def overview(
    db: Database, filters: Filters, plan: TargetPlan, *, all_breakdowns: bool = False
) -> Overview:
    async with snapshot(db) as read_model:
        schools = await read_model.schools()
        result = Overview(
            overall=await read_model.overall(filters),
            months=await _months(read_model, filters),
            by_district=await _breakdown(read_model, filters, "district"),
            by_school=await _breakdown(read_model, filters, "school", schools),
            targets=plan.applying_to(filters, schools),
            trainers_grid=await read_model.trainers_by_grade_and_gender(filters),
            schools=schools,
            cohorts=await read_model.cohorts(),
        )
        if all_breakdowns:
            result.by_grade = await _breakdown(read_model, filters, "grade")
            result.by_gender = await _breakdown(read_model, filters, "gender")
    return result
