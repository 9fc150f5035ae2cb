"""The words of an export: sheet names, column headers and categories (districts, genders)
in a person's language, or (``columns="keys"``) the stable machine names, the same in every
language, for scripts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from yts_reporting.i18n import Messages
from yts_reporting.indicators import MEASURES

Columns = Literal["labels", "keys"]

# The measure columns, each also the attribute of a row of totals it reads: the indicators,
# the average rating followed by the feedback responses it is made of.
_RATING = MEASURES.index("average_rating") + 1
MEASURE_COLUMNS = (*MEASURES[:_RATING], "feedback_responses", *MEASURES[_RATING:])
SCHOOL_COLUMNS = tuple(m for m in MEASURE_COLUMNS if m != "schools_participating")


@dataclass(frozen=True)
class Wording:
    """Sheet names, column headers and categories: a person's words in one language, or
    (``keys``) the machine names, the same in every language."""

    t: Messages
    keys: bool = False

    def sheet(self, name: str) -> str:
        return name if self.keys else self.t(f"sheet.{name}")[:31]  # Excel's limit

    def column(self, name: str) -> str:
        if self.keys:
            return name
        if name.startswith("participants_grade_"):
            return self.t("column.participants_grade", n=name.removeprefix("participants_grade_"))
        if name in MEASURES:
            return self.t(f"indicator.{name}")
        return self.t(f"column.{name}")

    def district(self, name: str | None) -> str:
        if self.keys:
            return name or "unknown"
        return self.t.district(name)

    def gender(self, code: Any) -> str:
        if code is None:
            return "unknown" if self.keys else self.t("unknown")
        return str(code) if self.keys else self.t(f"gender.{code}")

    def unknown(self) -> str:
        return "unknown" if self.keys else self.t("unknown")
