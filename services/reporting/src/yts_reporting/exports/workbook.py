"""The indicators as an XLSX workbook (``openpyxl``): the indicators against their targets, a
sheet per breakdown (district, school, grade, gender, month), the peers' categories, and what
the figures mean."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from yts_reporting.exports.wording import MEASURE_COLUMNS, SCHOOL_COLUMNS, Wording
from yts_reporting.filters import Filters
from yts_reporting.i18n import Messages
from yts_reporting.indicators import Totals
from yts_reporting.queries import BreakdownRow, Overview
from yts_reporting.targets import describe

SHEETS = ("indicators", "by_district", "by_school", "by_grade", "by_gender", "by_month")


def _header(sheet: Worksheet, columns: Sequence[str]) -> None:
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"


def _widths(sheet: Worksheet) -> None:
    for index, column in enumerate(sheet.iter_cols(values_only=True), start=1):
        longest = max((len(str(v)) for v in column if v is not None), default=8)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(10, longest + 2), 60)


def _breakdown_sheet(
    book: Workbook,
    words: Wording,
    name: str,
    keys: Sequence[str],
    rows: Sequence[tuple[list[object], Totals]],
    measures: Sequence[str] = MEASURE_COLUMNS,
) -> None:
    sheet = book.create_sheet(words.sheet(name))
    _header(sheet, [*(words.column(k) for k in keys), *(words.column(m) for m in measures)])
    for key_values, totals in rows:
        sheet.append([*key_values, *(getattr(totals, m) for m in measures)])
    rating_column = len(keys) + list(measures).index("average_rating") + 1
    for (cell,) in sheet.iter_rows(min_row=2, min_col=rating_column, max_col=rating_column):
        cell.number_format = "0.00"
    _widths(sheet)


def _summary(book: Workbook, words: Wording, overview: Overview, filters: Filters) -> None:
    t, keys = words.t, words.keys
    sheet = book.active
    assert sheet is not None
    sheet.title = words.sheet("indicators")

    def label(key: str, text_key: str) -> str:
        return key if keys else t(text_key)

    def day_or(value: Any, text_key: str) -> str:
        """A period's end, or for an open one, what it means (nothing, for scripts)."""
        if value is not None:
            return str(value.isoformat() if keys else t.day(value))
        return "" if keys else t(text_key)

    def named(value: Any, names: dict[Any, str]) -> str | None:
        """A chosen school or cohort: its id for scripts, else its name (its id if unknown)."""
        if value is None:
            return None
        return str(value) if keys else names.get(value, str(value))

    school = named(filters.school_id, {s.school_id: s.name for s in overview.schools})
    cohort = named(filters.cohort_id, {c.cohort_id: c.name for c in overview.cohorts})
    sheet.append([label("from", "xlsx.period_from"), day_or(filters.start, "xlsx.since_start")])
    sheet.append([label("to", "xlsx.period_to"), day_or(filters.end, "xlsx.up_to_now")])
    for key, text_key, value in (
        ("district", "district", words.district(filters.district) if filters.district else None),
        ("school_id", "school", school),
        ("cohort_id", "cohort", cohort),
        ("trainers_grade", "grade", filters.grade),
        ("trainers_gender", "gender", words.gender(filters.gender) if filters.gender else None),
    ):
        if value is not None:
            sheet.append([label(key, text_key), value])
    targets = overview.targets
    sheet.append(
        [label("targets", "xlsx.targets"), targets.level if keys else describe(targets, t)]
    )
    sheet.append([])
    start = sheet.max_row + 1
    sheet.append([words.column(c) for c in ("indicator", "value", "target", "share")])
    for cell in sheet[start]:
        cell.font = Font(bold=True)
    overall = overview.overall
    for name in SCHOOL_COLUMNS if targets.level == "school" else MEASURE_COLUMNS:
        value = getattr(overall, name)
        target = targets.of(name)
        share = value / target if value is not None and target else None
        sheet.append([words.column(name), value, target, share])
        sheet.cell(sheet.max_row, 4).number_format = "0.0%"
        if name == "average_rating":
            sheet.cell(sheet.max_row, 2).number_format = "0.00"
    _widths(sheet)


def _peers(book: Workbook, words: Wording, overall: Totals) -> None:
    t, keys = words.t, words.keys
    sheet = book.create_sheet(words.sheet("peers"))
    _header(sheet, [words.column("category"), words.column("peer_participations")])
    sheet.append([words.gender("female"), overall.peers_female])
    sheet.append([words.gender("male"), overall.peers_male])
    sheet.append(["unstated" if keys else t("peers.unstated"), overall.peers_unstated])
    for grade, count in sorted(overall.peers_by_grade.items()):
        sheet.append([f"grade_{grade}" if keys else t("grade_n", n=grade), count])
    sheet.append(["total" if keys else t("peers.total"), overall.peer_participations])
    _widths(sheet)


def _about(book: Workbook, words: Wording) -> None:
    # Prose: in the reader's language, English for scripts.
    t = words.t if not words.keys else Messages("en")
    sheet = book.create_sheet(words.sheet("about"))
    for row in (
        (t("about.title"), ""),
        ("", ""),
        (t("indicator.peer_participations"), t("about.peer_participations")),
        (t("indicator.average_rating"), t("about.average_rating")),
        (t("about.by_category"), t("about.by_category_text")),
        (t("sheet.by_school"), t("about.by_school_text")),
        (t("district_unknown"), t("about.district_unknown_text")),
        (t("about.personal_data"), t("about.personal_data_text")),
        (t("xlsx.generated"), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ):
        sheet.append(list(row))
    sheet["A1"].font = Font(bold=True)
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 100


def indicators_xlsx(overview: Overview, filters: Filters, words: Wording) -> bytes:
    t = words.t
    book = Workbook()
    _summary(book, words, overview, filters)
    _breakdown_sheet(
        book,
        words,
        "by_district",
        ["district"],
        [([words.district(r.key)], r.totals) for r in overview.by_district],
    )
    _breakdown_sheet(
        book,
        words,
        "by_school",
        ["school", "district", "school_id"],
        [([r.label, words.district(r.district), str(r.key)], r.totals) for r in overview.by_school],
        SCHOOL_COLUMNS,
    )
    _breakdown_sheet(
        book,
        words,
        "by_grade",
        ["trainers_grade"],
        [([_grade(r, words)], r.totals) for r in overview.by_grade],
    )
    _breakdown_sheet(
        book,
        words,
        "by_gender",
        ["trainers_gender"],
        [([words.gender(r.key)], r.totals) for r in overview.by_gender],
    )
    _breakdown_sheet(
        book,
        words,
        "by_month",
        ["month"],
        [([month], totals) for month, totals in overview.months],
    )
    _peers(book, words, overview.overall)
    _about(book, words)

    book.properties.title = f"{t('title')} - {t('sheet.indicators')}"
    book.properties.creator = "YTS reporting"
    book.properties.language = t.lang
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _grade(row: BreakdownRow, words: Wording) -> int | str:
    return int(row.key) if row.key is not None else words.unknown()
