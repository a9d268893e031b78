"""Small server-side SVG charts for the admin statistics page: no JavaScript, nothing from a CDN.

Each function returns the markup of one inline `<svg>`. Every text that ends up in it (titles,
labels, series names, tooltips) is escaped here, which is why the result can be marked safe.
"""

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#417690", "#e0883d", "#5b9a68", "#a05195", "#d45087", "#665191")
_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")
_FONT = 'font-family="sans-serif" font-size="11"'
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 48, 12, 28, 36


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = ""


def bar_chart(
    *, title: str, labels: Sequence[str], series: Sequence[Series], width: int = 640, height: int = 220, unit: str = ""
) -> SafeString:
    """Draw grouped vertical bars, one group per label and one bar per series."""

    def marks(plot: "_Plot", slot: float) -> list[str]:
        parts = []
        bar_width = max(1.0, slot * 0.8 / len(series))
        for index, label in enumerate(labels):
            for number, one in enumerate(series):
                value = _at(one.values, index)
                if value is None:
                    continue
                x = plot.left + slot * index + slot * 0.1 + bar_width * number
                y = plot.y(value)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{plot.bottom - y:.1f}" '
                    f'fill="{_color(one, number)}"><title>{escape(_tip(label, one, value, unit))}</title></rect>'
                )
        return parts

    return _vertical_chart(title, labels, series, width, height, marks)


def line_chart(
    *, title: str, labels: Sequence[str], series: Sequence[Series], width: int = 640, height: int = 220, unit: str = ""
) -> SafeString:
    """Draw one line per series with a dot per point; a missing value (None) breaks the line."""

    def marks(plot: "_Plot", slot: float) -> list[str]:
        parts = []
        for number, one in enumerate(series):
            color = _color(one, number)
            segment: list[str] = []
            for index, label in enumerate(labels):
                value = _at(one.values, index)
                if value is None:
                    parts.append(_polyline(segment, color))
                    segment = []
                    continue
                x, y = plot.left + slot * (index + 0.5), plot.y(value)
                segment.append(f"{x:.1f},{y:.1f}")
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                    f"<title>{escape(_tip(label, one, value, unit))}</title></circle>"
                )
            parts.append(_polyline(segment, color))
        return parts

    return _vertical_chart(title, labels, series, width, height, marks)


def _vertical_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    width: int,
    height: int,
    marks: Callable[["_Plot", float], list[str]],
) -> SafeString:
    """Frame, grid, x labels and legend around the `marks` a chart draws (one slot per label)."""
    if _is_empty(labels, series):
        return _empty_chart(title, width, height)
    plot = _Plot(width, height, _nice_max(_values(series)))
    parts = [*_frame(title, width, height), *plot.grid(), *marks(plot, plot.width / len(labels))]
    parts += plot.x_labels(labels)
    parts += _legend(series, width)
    return _svg(title, width, height, parts)


def _tip(label: str, one: Series, value: float, unit: str) -> str:
    return f"{label} · {one.name}: {_number(value)}{unit}"


def horizontal_bar_chart(
    *, title: str, items: Sequence[tuple[str, float]], width: int = 640, unit: str = "", color: str = ""
) -> SafeString:
    """Draw one horizontal bar per (label, value), in the given order: for rankings such as tool usage."""
    row, label_width = 22, 150
    height = _MARGIN_TOP + row * max(1, len(items)) + 12
    if not items or all(not value for _, value in items):
        return _empty_chart(title, width, max(height, 80))
    top = _nice_max([value for _, value in items])
    fill = _color(Series(name="", values=(), color=color), 0)
    span = width - label_width - _MARGIN_RIGHT - 60
    parts = _frame(title, width, height)
    for index, (label, value) in enumerate(items):
        y = _MARGIN_TOP + row * index
        bar = span * max(0.0, value) / top
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" {_FONT}>{escape(_shorten(label, 24))}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{bar:.1f}" height="{row - 8}" fill="{fill}">'
            f"<title>{escape(f'{label}: {_number(value)}{unit}')}</title></rect>"
            f'<text x="{label_width + bar + 4:.1f}" y="{y + 15}" {_FONT}>{escape(_number(value) + unit)}</text>'
        )
    return _svg(title, width, height, parts)


class _Plot:
    """The plotting area of a vertical chart and its value → pixel scale."""

    def __init__(self, width: int, height: int, top: float) -> None:
        self.left, self.right = _MARGIN_LEFT, width - _MARGIN_RIGHT
        self.top_px, self.bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM
        self.width = self.right - self.left
        self.top = top

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top_px) * max(0.0, value) / self.top

    def grid(self) -> list[str]:
        """Horizontal grid lines with their values (units are in the tooltips: the margin is narrow)."""
        # The top is 1, 2 or 5 times 10^k: fifths of 1 and 5, quarters of 2, give round steps.
        steps = 4 if f"{self.top:e}".startswith("2") else 5
        lines = []
        for step in range(steps + 1):
            value = self.top * step / steps
            y = self.y(value)
            lines.append(
                f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" stroke="#ddd"/>'
                f'<text x="{self.left - 4}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{escape(_number(value))}</text>'
            )
        return lines

    def x_labels(self, labels: Sequence[str]) -> list[str]:
        # At most ~10 labels fit under the axis: show every n-th one (the tooltips carry all).
        every = max(1, math.ceil(len(labels) / 10))
        slot = self.width / len(labels)
        return [
            f'<text x="{self.left + slot * (index + 0.5):.1f}" y="{self.bottom + 14}" text-anchor="middle" {_FONT}>'
            f"{escape(_shorten(label, 12))}</text>"
            for index, label in enumerate(labels)
            if index % every == 0
        ]


def _frame(title: str, width: int, height: int) -> list[str]:
    return [
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="8" y="17" font-family="sans-serif" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]


def _legend(series: Sequence[Series], width: int) -> list[str]:
    if len(series) < 2:
        return []
    parts, x = [], width - _MARGIN_RIGHT
    for number, one in reversed(list(enumerate(series))):
        name = _shorten(one.name, 20)
        x -= 16 + 7 * len(name)
        parts.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{_color(one, number)}"/>'
            f'<text x="{x + 14}" y="17" {_FONT}>{escape(name)}</text>'
        )
    return parts


def _svg(title: str, width: int, height: int, parts: list[str]) -> SafeString:
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" class="brenda-chart">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )
    # Every piece of text above went through escape(); numbers and colours are formatted by us.
    return mark_safe(markup)  # noqa: S308


def _empty_chart(title: str, width: int, height: int) -> SafeString:
    parts = [
        *_frame(title, width, height),
        f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="#666" {_FONT}>No data</text>',
    ]
    return _svg(title, width, height, parts)


def _polyline(points: list[str], color: str) -> str:
    if len(points) < 2:
        return ""
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="2"/>'


def _is_empty(labels: Sequence[str], series: Sequence[Series]) -> bool:
    return not labels or not series or all(value is None for value in _values(series, keep_none=True))


def _values(series: Sequence[Series], *, keep_none: bool = False) -> list:
    return [value for one in series for value in one.values if keep_none or value is not None]


def _at(values: Sequence[float | None], index: int) -> float | None:
    return values[index] if index < len(values) else None


def _nice_max(values: Sequence[float]) -> float:
    """Round the largest value up to 1, 2 or 5 times a power of ten, so the grid reads well."""
    largest = max([0.0, *values])
    if largest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(largest))
    for factor in (1, 2, 5, 10):
        if largest <= factor * power:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover


def _color(series: Series, number: int) -> str:
    return series.color if _COLOR.fullmatch(series.color) else PALETTE[number % len(PALETTE)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"


def _shorten(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
