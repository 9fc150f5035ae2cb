"""Charts as inline SVG, drawn here from the numbers: nothing for a browser to download, no
script, so the dashboard works offline and prints as it shows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend and tooltips
    values: Sequence[float]
    css: str  # class giving the colour (see assets/dashboard.css)


STEPS = (1, 2, 5)  # a tick step is one of these times a power of ten


@dataclass(frozen=True)
class Axis:
    """The value axis: its ticks, evenly spaced from zero, the last one the axis's end."""

    ticks: tuple[float, ...]
    decimals: int  # digits a tick's label needs after the point (0 for counts)

    @property
    def end(self) -> float:
        return self.ticks[-1]


def nice_axis(peak: float, *, integers: bool = True, most: int = 6) -> Axis:
    """Ticks 0, step, 2 x step ... up to the first at or above ``peak``, the step the smallest
    1, 2 or 5 x 10^k giving at most ``most`` intervals: 10 gives 0, 2, 4, 6, 8, 10 and 5 gives
    0 to 5 by 1. Counts (``integers``) never get a step below 1, so no tick is fractional."""
    if peak <= 0:
        return Axis((0.0, 1.0), 0)
    power = math.floor(math.log10(peak / most))
    if integers:
        power = max(power, 0)
    while True:
        for multiple in STEPS:
            # Decimal: 0.3 / 0.1 must be 3 intervals, not the 4 binary floats make of it.
            step = Decimal(multiple).scaleb(power)
            intervals = math.ceil(Decimal(str(peak)) / step)
            if intervals <= most:
                decimals = max(0, -power)
                ticks = tuple(float(step * i) for i in range(intervals + 1))
                return Axis(ticks, decimals)
        power += 1


def _number(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}".replace(",", "\u202f")


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    chart_id: str,
    width: int = 640,
    height: int = 240,
    max_labels: int = 12,
) -> Markup:
    """Grouped bars: for each label, one bar per series, on a shared axis from zero."""
    left, right, top, bottom = 48, 8, 12, 40 if series and len(series) > 1 else 28
    legend = 18 if len(series) > 1 else 0
    plot_w, plot_h = width - left - right, height - top - bottom - legend
    values = [v for s in series for v in s.values]
    axis = nice_axis(max(values, default=0), integers=all(float(v).is_integer() for v in values))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in axis.ticks:  # gridlines and their values; the bars use the same scale
        y = top + plot_h - plot_h * tick / axis.end
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 3:.1f}" text-anchor="end" '
            f'data-value="{tick:g}">{_number(tick, axis.decimals)}</text>'
        )
    count = max(1, len(labels))
    slot = plot_w / count
    bar_w = max(1.0, slot * 0.8 / max(1, len(series)))
    every = max(1, math.ceil(count / max_labels))
    for index, label in enumerate(labels):
        x0 = left + slot * index + slot * 0.1
        for position, one in enumerate(series):
            value = one.values[index] if index < len(one.values) else 0
            bar_h = plot_h * value / axis.end
            x = x0 + bar_w * position
            y = top + plot_h - bar_h
            parts.append(
                f'<rect class="bar {escape(one.css)}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar_w:.1f}" height="{bar_h:.1f}" data-label="{escape(label)}" '
                f'data-value="{value:g}"><title>{escape(label)} - {escape(one.name)}: '
                f"{_number(value, 0 if float(value).is_integer() else axis.decimals + 1)}"
                "</title></rect>"
            )
        if index % every == 0:
            parts.append(
                f'<text class="label" x="{x0 + slot * 0.4:.1f}" y="{top + plot_h + 14}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{left + plot_w}" '
        f'y1="{top + plot_h}" y2="{top + plot_h}"/>'
    )
    if legend:
        x = float(left)
        y = height - 8
        for one in series:
            parts.append(
                f'<rect class="key {escape(one.css)}" x="{x:.1f}" y="{y - 9}" '
                f'width="10" height="10"/><text class="legend" x="{x + 14:.1f}" y="{y}">'
                f"{escape(one.name)}</text>"
            )
            x += 14 + 7.5 * len(one.name) + 16
    parts.append("</svg>")
    return Markup("".join(parts))
