"""The exports: sessions as CSV (stdlib ``csv``) and indicators as an XLSX workbook
(``openpyxl``), a sheet per breakdown. Neither holds personal data: sessions carry counts only,
trainers appear only as counts."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from yts_reporting.indicators import Filters, SessionRow, Totals
from yts_reporting.queries import BreakdownRow, Overview
from yts_reporting.schemas import PEER_PARTICIPATIONS
from yts_reporting.settings import ProgrammeTargets

PEER_GRADES = range(1, 12)

SESSION_COLUMNS = (
    "session_id",
    "delivered_on",
    "school_id",
    "school_name",
    "district",
    "topic_module_id",
    "language",
    "duration_minutes",
    "facilitators",
    "participants",
    "participants_female",
    "participants_male",
    "participants_gender_unstated",
    *(f"participants_grade_{g}" for g in PEER_GRADES),
    "feedback_responses",
    "average_rating",
)

# The column headers: each is also the attribute of a row of totals it reads.
MEASURES = (
    "schools_participating",
    "trainers_enrolled",
    "trainers_certified",
    "trainers_active",
    "trainers_withdrawn",
    "sessions_delivered",
    "peer_participations",
    "average_rating",
    "feedback_responses",
    "milestones_reached",
)

ABOUT = (
    ("Young Trainers' School: programme indicators", ""),
    ("", ""),
    ("peer_participations", PEER_PARTICIPATIONS),
    (
        "average_rating",
        "Mean feedback rating (1 to 5) weighted by the number of responses of each session.",
    ),
    (
        "By grade / By gender",
        "Grade and gender are the trainers' categories. A row holds what the filter "
        "grade=... (gender=...) gives: the trainers of that category and the sessions at least "
        "one of them facilitated, so rows may add up to more than the total.",
    ),
    (
        "District unknown",
        "Facts of a school whose registration has not reached reporting yet.",
    ),
    (
        "Personal data",
        "None: trainers appear only as counts, peers only as counts by category.",
    ),
)


def sessions_csv(rows: Sequence[SessionRow]) -> bytes:
    """One row per delivered session; UTF-8 with a BOM so spreadsheet software reads the
    Kazakh and Russian school names right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SESSION_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.session_id,
                row.delivered_on.isoformat(),
                row.school_id,
                row.school_name or "",
                row.district or "",
                row.topic_module_id or "",
                row.language or "",
                row.duration_minutes if row.duration_minutes is not None else "",
                row.facilitators,
                row.participants,
                row.participants_female,
                row.participants_male,
                row.participants - row.participants_female - row.participants_male,
                *(row.peers_by_grade.get(g, 0) for g in PEER_GRADES),
                row.feedback_responses,
                "" if row.average_rating is None else f"{row.average_rating:.2f}",
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _header(sheet: Worksheet, columns: Sequence[str]) -> None:
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"


def _widths(sheet: Worksheet) -> None:
    for index, column in enumerate(sheet.iter_cols(values_only=True), start=1):
        longest = max((len(str(v)) for v in column if v is not None), default=8)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(10, longest + 2), 60)


def _measures(totals: Totals) -> list[object]:
    return [getattr(totals, name) for name in MEASURES]


def _breakdown_sheet(
    book: Workbook, title: str, keys: Sequence[str], rows: Sequence[tuple[list[object], Totals]]
) -> None:
    sheet = book.create_sheet(title)
    _header(sheet, [*keys, *MEASURES])
    for key_values, totals in rows:
        sheet.append([*key_values, *_measures(totals)])
    rating_column = len(keys) + MEASURES.index("average_rating") + 1
    for (cell,) in sheet.iter_rows(min_row=2, min_col=rating_column, max_col=rating_column):
        cell.number_format = "0.00"
    _widths(sheet)


def _label(row: BreakdownRow, unknown: str = "unknown") -> str:
    return row.label if row.key is not None else unknown


def indicators_xlsx(overview: Overview, f: Filters, targets: ProgrammeTargets) -> bytes:
    school_names = {s.school_id: s.name for s in overview.schools}
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Indicators"
    summary.append(["period from", f.start.isoformat() if f.start else "start"])
    summary.append(["period to", f.end.isoformat() if f.end else "now"])
    for name, value in (
        ("district", f.district),
        ("school", school_names.get(f.school_id, str(f.school_id)) if f.school_id else None),
        ("cohort_id", str(f.cohort_id) if f.cohort_id else None),
        ("trainers' grade", f.grade),
        ("trainers' gender", f.gender),
    ):
        if value is not None:
            summary.append([name, value])
    summary.append([])
    start = summary.max_row + 1
    summary.append(["indicator", "value", "target", "share of target"])
    for cell in summary[start]:
        cell.font = Font(bold=True)
    overall = overview.overall
    for name in MEASURES:
        value = getattr(overall, name)
        target = getattr(targets, name, None) or None
        share = value / target if value is not None and target else None
        summary.append([name, value, target, share])
        summary.cell(summary.max_row, 4).number_format = "0.0%"
        if name == "average_rating":
            summary.cell(summary.max_row, 2).number_format = "0.00"
    _widths(summary)

    _breakdown_sheet(
        book,
        "By district",
        ["district"],
        [([_label(r)], r.totals) for r in overview.by_district],
    )
    _breakdown_sheet(
        book,
        "By school",
        ["school_id", "school", "district"],
        [([str(r.key), r.label, r.district or "unknown"], r.totals) for r in overview.by_school],
    )
    _breakdown_sheet(
        book,
        "By grade",
        ["trainers' grade"],
        [([int(r.key) if r.key is not None else "unknown"], r.totals) for r in overview.by_grade],
    )
    _breakdown_sheet(
        book,
        "By gender",
        ["trainers' gender"],
        [([_label(r)], r.totals) for r in overview.by_gender],
    )
    _breakdown_sheet(
        book, "By month", ["month"], [([month], totals) for month, totals in overview.months]
    )

    peers = book.create_sheet("Peers")
    _header(peers, ["peers' category", "peer_participations"])
    peers.append(["female", overall.peers_female])
    peers.append(["male", overall.peers_male])
    peers.append(["gender not stated", overall.peers_unstated])
    for grade, count in sorted(overall.peers_by_grade.items()):
        peers.append([f"grade {grade}", count])
    peers.append(["total", overall.peer_participations])
    _widths(peers)

    about = book.create_sheet("About")
    for row in ABOUT:
        about.append(list(row))
    about.append(["generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")])
    about["A1"].font = Font(bold=True)
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100

    book.properties.title = "Young Trainers' School - indicators"
    book.properties.creator = "YTS reporting"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
