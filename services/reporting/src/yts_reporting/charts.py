"""Charts as inline SVG, drawn here from the numbers: nothing for a browser to download, no
script, so the dashboard works offline and prints as it shows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend and tooltips
    values: Sequence[float]
    css: str  # class giving the colour (see assets/dashboard.css)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at or above value (an axis maximum)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


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
    peak = max((v for s in series for v in s.values), default=0)
    axis = nice_ceiling(peak)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):  # gridlines and their values
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 3:.1f}" text-anchor="end">'
            f"{_number(axis * i / 4)}</text>"
        )
    count = max(1, len(labels))
    slot = plot_w / count
    bar_w = max(1.0, slot * 0.8 / max(1, len(series)))
    every = max(1, math.ceil(count / max_labels))
    for index, label in enumerate(labels):
        x0 = left + slot * index + slot * 0.1
        for position, one in enumerate(series):
            value = one.values[index] if index < len(one.values) else 0
            bar_h = plot_h * value / axis if axis else 0
            x = x0 + bar_w * position
            y = top + plot_h - bar_h
            parts.append(
                f'<rect class="bar {escape(one.css)}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar_w:.1f}" height="{bar_h:.1f}" data-label="{escape(label)}" '
                f'data-value="{value:g}"><title>{escape(label)} - {escape(one.name)}: '
                f"{_number(value)}</title></rect>"
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
