"""The figures a bench run produces: each one a list of repeats, summarised as min / median /
max, and where it has a baseline measured back to back in the same run, the ratio per repeat
(the figure over its baseline) summarised the same way. Printed as one table, kept as JSON."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Spread:
    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(min(values), statistics.median(values), max(values))


@dataclass
class Figure:
    """One row of the table."""

    path: str
    database: str  # sqlite, postgresql, or "" when the row is about no database
    unit: str
    values: list[float] = field(default_factory=list)
    baseline: str = ""  # what the baseline is, e.g. "raw pull + json + ack"
    baseline_values: list[float] = field(default_factory=list)
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratios(self) -> list[float]:
        """Each repeat over the baseline measured right before it."""
        return [v / b for v, b in zip(self.values, self.baseline_values, strict=False) if b]

    def as_json(self) -> dict[str, Any]:
        kept = asdict(self)
        kept["spread"] = asdict(Spread.of(self.values)) if self.values else None
        if self.baseline_values:
            kept["baseline_spread"] = asdict(Spread.of(self.baseline_values))
            kept["ratio_spread"] = asdict(Spread.of(self.ratios))
        return kept


def _number(value: float, unit: str) -> str:
    if unit in ("ms", "MB"):
        return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return f"{value:,.0f}"


def _spread(values: list[float], unit: str) -> str:
    if not values:
        return "—"
    s = Spread.of(values)
    if len(values) == 1:
        return f"{_number(s.median, unit)} {unit}"
    return f"{_number(s.median, unit)} {unit} ({_number(s.low, unit)}-{_number(s.high, unit)})"


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table: median (min-max) of the repeats."""
    lines = [
        "| path | database | median (min-max) | baseline in the same run | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        baseline = (
            f"{f.baseline}: {_spread(f.baseline_values, f.unit)}" if f.baseline_values else "—"
        )
        ratio = "—"
        if f.ratios:
            r = Spread.of(f.ratios)
            ratio = (
                f"{r.median:.2f}"
                if len(f.ratios) == 1
                else f"{r.median:.2f} ({r.low:.2f}-{r.high:.2f})"
            )
        lines.append(
            f"| {f.path} | {f.database or '—'} | {_spread(f.values, f.unit)} | {baseline} "
            f"| {ratio} | {f.target or '—'} |"
        )
    return "\n".join(lines)
