"""Small SVG charts for the HTML report: metric distributions per preset, metric against seconds.

Plain SVG text, inlined in the page: no plotting library, sharp at any zoom, and the numbers
stay readable in the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .sets import Interval

WIDTH_PX, ROW_PX, MARGIN_LEFT_PX, MARGIN_PX = 560, 34, 110, 28
# Okabe-Ito colours: told apart with every common colour-vision deficiency.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [round(first + i * step, 12) for i in range(int(math.ceil((high - first) / step)) + 1)]


def _label(value: float) -> str:
    return f"{value:.4g}"


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times the powers of ten from below ``low`` to above ``high`` (both > 0)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks = [m * 10.0**k for k in range(first, last + 1) for m in (1, 2, 5)]
    inside = [t for t in ticks if low <= t <= high]
    below = [t for t in ticks if t < low][-1:]
    above = [t for t in ticks if t > high][:1]
    return below + inside + above


class _Axis:
    """Maps values to pixels along [start_px, end_px] over the ticks' range; logarithmic for
    positive values spanning more than ``LOG_RATIO``."""

    LOG_RATIO = 20

    def __init__(self, values: Sequence[float], start_px: float, end_px: float):
        finite = [v for v in values if math.isfinite(v)]
        self.log = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > self.LOG_RATIO
        if self.log:
            self.ticks = log_ticks(min(finite), max(finite))
        else:
            self.ticks = nice_ticks(min(finite), max(finite)) if finite else []
        self.low, self.high = (self._scale(self.ticks[0]), self._scale(self.ticks[-1])) if self.ticks else (0.0, 1.0)
        self.start_px, self.end_px = start_px, end_px

    def _scale(self, value: float) -> float:
        return math.log10(value) if self.log else value

    def __call__(self, value: float) -> float:
        if self.log and value <= 0:
            return self.start_px
        fraction = (self._scale(value) - self.low) / (self.high - self.low)
        return self.start_px + fraction * (self.end_px - self.start_px)


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11" role="img">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>'
        + "".join(body) + "</svg>"
    )


def _x_axis(axis: _Axis, y_px: float, top_px: float, label: str) -> list[str]:
    parts = [f'<line x1="{axis.start_px:.1f}" x2="{axis.end_px:.1f}" y1="{y_px:.1f}" y2="{y_px:.1f}" stroke="#333"/>']
    for tick in axis.ticks:
        x = axis(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_px:.1f}" y2="{y_px:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{y_px + 14:.1f}" text-anchor="middle">{_label(tick)}</text>')
    middle = (axis.start_px + axis.end_px) / 2
    parts.append(f'<text x="{middle:.1f}" y="{y_px + 30:.1f}" text-anchor="middle">{escape(label)}</text>')
    return parts


def strip_plot(title: str, series: dict[str, Sequence[float]], means: dict[str, Interval | None],
               better: str = "") -> str:
    """One row per series: a dot per value, the series' summary ``means[name]`` (the report's
    own) as a bar with its 95% interval.

    ``better``: "higher" or "lower", said under the axis. Non-finite values are not drawn.
    """
    names = list(series)
    height = MARGIN_PX + ROW_PX * len(names) + 44
    shown_means = [interval.mean for interval in means.values() if interval is not None]
    axis = _Axis([v for values in series.values() for v in values] + shown_means, MARGIN_LEFT_PX, WIDTH_PX - 16)
    bottom = MARGIN_PX + ROW_PX * len(names)
    body = _x_axis(axis, bottom, MARGIN_PX, f"{title} ({better} is better)" if better else title)
    for row, name in enumerate(names):
        y = MARGIN_PX + ROW_PX * (row + 0.5)
        colour = COLOURS[row % len(COLOURS)]
        body.append(f'<text x="{MARGIN_LEFT_PX - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(name)}</text>')
        finite = [v for v in series[name] if math.isfinite(v)]
        for index, value in enumerate(finite):
            jitter = ((index * 7) % 9 - 4) * 1.5  # spread equal values a little, the same every time
            body.append(f'<circle cx="{axis(value):.1f}" cy="{y + jitter:.1f}" r="3.5" fill="{colour}" fill-opacity="0.6"/>')
        interval = means.get(name)
        if interval is not None and math.isfinite(interval.mean):
            x = axis(interval.mean)
            body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 11:.1f}" y2="{y + 11:.1f}" stroke="#000" stroke-width="2"/>')
            if math.isfinite(interval.half_width):
                # Clipped to the axis: two values can have an interval far wider than their range.
                left = max(axis.start_px, axis(interval.mean - interval.half_width))
                right = min(axis.end_px, axis(interval.mean + interval.half_width))
                body.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#000"/>')
    return _svg(WIDTH_PX, height, title, body)


def scatter_plot(title: str, x_label: str, y_label: str, series: dict[str, Sequence[tuple[float, float]]]) -> str:
    """A dot per (x, y) point, one colour per series, with a legend; each series' mean as a cross."""
    height, top, left = 330, MARGIN_PX, MARGIN_LEFT_PX
    bottom = height - 60
    points = [p for values in series.values() for p in values if math.isfinite(p[0]) and math.isfinite(p[1])]
    x_axis = _Axis([p[0] for p in points], left, WIDTH_PX - 16)
    y_axis = _Axis([p[1] for p in points], bottom, top)
    body = _x_axis(x_axis, bottom, top, x_label)
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="#333"/>')
    for tick in y_axis.ticks:
        y = y_axis(tick)
        body.append(f'<line x1="{left}" x2="{WIDTH_PX - 16}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    body.append(
        f'<text transform="translate(16 {(top + bottom) / 2:.0f}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
    )
    for index, (name, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        finite = np.array([p for p in values if math.isfinite(p[0]) and math.isfinite(p[1])]).reshape(-1, 2)
        for x, y in finite:
            body.append(f'<circle cx="{x_axis(x):.1f}" cy="{y_axis(y):.1f}" r="4" fill="{colour}" fill-opacity="0.65"/>')
        if len(finite):
            cx, cy = x_axis(finite[:, 0].mean()), y_axis(finite[:, 1].mean())
            body.append(f'<path d="M{cx - 7:.1f} {cy:.1f}h14M{cx:.1f} {cy - 7:.1f}v14" stroke="{colour}" stroke-width="3"/>')
        legend_y = height - 12
        legend_x = left + 110 * index
        body.append(f'<circle cx="{legend_x:.0f}" cy="{legend_y - 4}" r="5" fill="{colour}"/>')
        body.append(f'<text x="{legend_x + 9:.0f}" y="{legend_y}">{escape(name)}</text>')
    return _svg(WIDTH_PX, height, title, body)
