"""The dashboard's charts as a reader sees them: the value axis is labelled with exact, evenly
spaced numbers (steps of 1, 2 or 5 times a power of ten), never a rounded quarter of the
maximum, counts never get a fractional label, and every bar meets the gridline of its value."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
from yts_reporting.charts import Series, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Drawn:
    ticks: list[str]  # the axis labels, bottom to top
    gridlines: dict[str, float]  # label -> y of its gridline
    bars: list[tuple[float, float]]  # (value, y of the bar's top)


def draw(values: list[float]) -> Drawn:
    svg = bar_chart(
        [f"m{i}" for i in range(len(values))],
        [Series("sessions", values, "s-sessions")],
        title="sessions",
        chart_id="chart",
    )
    root = ET.fromstring(str(svg))
    lines = [e for e in root.iter(f"{SVG}line") if e.get("class") == "grid"]
    labels = [e for e in root.iter(f"{SVG}text") if e.get("class") == "tick"]
    bars = [e for e in root.iter(f"{SVG}rect") if "bar" in (e.get("class") or "").split()]
    return Drawn(
        ticks=[label.text or "" for label in labels],
        gridlines={
            label.text or "": float(line.get("y1", "nan"))
            for line, label in zip(lines, labels, strict=True)
        },
        bars=[(float(b.get("data-value", "nan")), float(b.get("y", "nan"))) for b in bars],
    )


@pytest.mark.parametrize(
    ("peak", "labels"),
    [
        (10, ["0", "2", "4", "6", "8", "10"]),
        (5, ["0", "1", "2", "3", "4", "5"]),
        (7, ["0", "2", "4", "6", "8"]),
        (3, ["0", "1", "2", "3"]),
        (1, ["0", "1"]),
        (0, ["0", "1"]),
        (97, ["0", "20", "40", "60", "80", "100"]),
        (1234, ["0", "500", "1\u202f000", "1\u202f500"]),
    ],
)
def test_the_axis_is_labelled_with_exact_round_steps(peak: int, labels: list[str]) -> None:
    assert draw([peak, peak // 2]).ticks == labels


def test_counts_get_whole_evenly_spaced_labels_ending_at_or_above_the_tallest_bar() -> None:
    for peak in range(1, 301):
        numbers = [int(label.replace("\u202f", "")) for label in draw([peak]).ticks]
        step = numbers[1]
        assert numbers == [step * i for i in range(len(numbers))], (peak, numbers)
        assert str(step).rstrip("0") in ("1", "2", "5"), (peak, numbers)
        assert numbers[-1] >= peak > numbers[-2], (peak, numbers)
        assert len(numbers) <= 7, (peak, numbers)


def test_a_bar_meets_the_gridline_of_its_value() -> None:
    drawn = draw([8, 6, 4, 7, 0])
    assert drawn.ticks == ["0", "2", "4", "6", "8"]
    tops = dict(drawn.bars[:3])
    assert tops[8] == pytest.approx(drawn.gridlines["8"], abs=0.1)  # the axis ends at 8
    assert tops[6] == pytest.approx(drawn.gridlines["6"], abs=0.1)
    assert tops[4] == pytest.approx(drawn.gridlines["4"], abs=0.1)
    seven = dict(drawn.bars)[7]
    assert drawn.gridlines["8"] < seven < drawn.gridlines["6"]


def test_fractional_values_get_as_many_decimals_as_their_step_needs() -> None:
    assert draw([0.37, 0.1]).ticks == ["0.0", "0.1", "0.2", "0.3", "0.4"]
