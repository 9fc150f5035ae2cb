"""Delivered sessions as CSV (stdlib ``csv``): one row per session, counts only."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from yts_reporting.exports.session_rows import SessionRow
from yts_reporting.exports.wording import Wording

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


def sessions_csv(rows: Sequence[SessionRow], words: Wording) -> bytes:
    """One row per delivered session; UTF-8 with a BOM so spreadsheet software reads the
    Kazakh and Russian school names right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([words.column(name) for name in SESSION_COLUMNS])
    for row in rows:
        writer.writerow(
            [
                row.session_id,
                row.delivered_on.isoformat(),
                row.school_id,
                row.school_name or "",
                words.district(row.district) if row.district else "",
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
