"""Inline SVG charts for the dashboard: no scripts, no front-end build, styled by dashboard.css.

Every label is escaped; each chart carries a ``<title>`` for screen readers, and the page shows
the same figures in a table beside it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 960  # charts across a panel; those beside a table are narrower
NARROW = 560
_ids = itertools.count(1)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _svg(title: str, height: int, body: list[str], css: str, width: int = WIDTH) -> Markup:
    chart_id = f"chart-{next(_ids)}"
    head = (
        f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}">{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _legend(names: Sequence[str], y: int) -> list[str]:
    parts = []
    x = 48
    for index, name in enumerate(names):
        parts.append(f'<rect class="c{index % 6}" x="{x}" y="{y - 9}" width="10" height="10"/>')
        parts.append(f'<text class="legend" x="{x + 14}" y="{y}">{escape(name)}</text>')
        x += 22 + 7 * len(name)
    return parts


def _grid(top: int, bottom: int, peak: float, fmt: str = "{:g}") -> list[str]:
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - (bottom - top) * fraction
        parts.append(f'<line class="grid" x1="44" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}"/>')
        label = fmt.format(peak * fraction)
        parts.append(f'<text class="axis" x="40" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def stacked_bars(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]
) -> Markup:
    """Vertical bars per label (months), one stacked segment per series; a legend if several."""
    top, bottom = 12, 180
    legend = len(series) > 1
    height = bottom + (46 if legend else 26)
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    peak = _nice_max(max(totals, default=0))
    slot = (WIDTH - 56) / max(1, len(labels))
    bar = slot * 0.62
    body = _grid(top, bottom, peak)
    for i, label in enumerate(labels):
        x = 48 + slot * i + (slot - bar) / 2
        y = float(bottom)
        for index, (_, values) in enumerate(series):
            size = (bottom - top) * values[i] / peak
            if size > 0:
                y -= size
                body.append(
                    f'<rect class="c{index % 6}" x="{x:.1f}" y="{y:.1f}" '
                    f'width="{bar:.1f}" height="{size:.1f}"/>'
                )
        if totals[i]:
            body.append(
                f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 3:.1f}" '
                f'text-anchor="middle">{totals[i]}</text>'
            )
        body.append(
            f'<text class="axis" x="{x + bar / 2:.1f}" y="{bottom + 14}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    if legend:
        body += _legend([name for name, _ in series], bottom + 38)
    return _svg(title, height, body, "bars")


def bars(title: str, labels: Sequence[str], values: Sequence[int]) -> Markup:
    return stacked_bars(title, labels, [("", values)])


def hbars(
    title: str, rows: Sequence[tuple[str, int]], *, colour: int = 0, width: int = NARROW
) -> Markup:
    """Horizontal bars, one per row, the label on the left and the value at the bar's end."""
    row_height = 24
    height = max(1, len(rows)) * row_height + 8
    label_width = 210
    peak = _nice_max(max((value for _, value in rows), default=0))
    span = width - label_width - 60
    body = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_height
        size = span * value / peak
        text = label if len(label) <= 30 else label[:29] + "…"
        body.append(
            f'<text class="label" x="{label_width - 8}" y="{y + 15}" '
            f'text-anchor="end">{escape(text)}</text>'
        )
        body.append(
            f'<rect class="c{colour % 6}" x="{label_width}" y="{y + 3}" '
            f'width="{size:.1f}" height="{row_height - 8}"/>'
        )
        body.append(
            f'<text class="value" x="{label_width + size + 6:.1f}" y="{y + 15}">{value}</text>'
        )
    return _svg(title, height, body, "hbars", width)


def lines(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> Markup:
    """One line per series over the labels (months), with a legend."""
    top, bottom = 12, 180
    height = bottom + 46
    peak = _nice_max(max((max(values, default=0) for _, values in series), default=0))
    step = (WIDTH - 72) / max(1, len(labels) - 1)
    body = _grid(top, bottom, peak)
    for i, label in enumerate(labels):
        body.append(
            f'<text class="axis" x="{56 + step * i:.1f}" y="{bottom + 14}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for index, (_, values) in enumerate(series):
        points = " ".join(
            f"{56 + step * i:.1f},{bottom - (bottom - top) * value / peak:.1f}"
            for i, value in enumerate(values)
        )
        body.append(f'<polyline class="line l{index % 6}" points="{points}"/>')
    body += _legend([name for name, _ in series], bottom + 38)
    return _svg(title, height, body, "lines")
