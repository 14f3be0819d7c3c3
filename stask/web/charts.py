"""Server-rendered SVG line charts: geometry and ticks computed here, markup in a template.

No chart library and no script: the page must work under a CSP without 'unsafe-inline'
(so no ``style=`` attributes either) and without any CDN. Missing values (an hour without
data) break the line instead of being drawn as zero.

The plot is an SVG stretched to its box (``preserveAspectRatio="none"``, strokes that do not
scale), and the axis labels are text in two SVGs *without* a viewBox, placed by percentages:
their font size is plain CSS, so labels stay the same readable size at 390 px and at 1280 px
instead of shrinking or growing with the chart. Y ticks fall on 1-2-5 steps (0, 2, 4, 6 —
never 0.625).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: The plot's own coordinates (the SVG stretches them to its CSS box).
PLOT_W, PLOT_H = 1000, 1000
#: Dots (with a tooltip each) are drawn only when there are few enough points to hover.
MAX_DOTS = 96
#: At most this many intervals on the Y axis (at least two: see :func:`nice_ticks`).
Y_INTERVALS = 5
#: About this many X labels; every other one is hidden on a narrow chart (CSS).
X_LABELS = 6
#: 1-2-5 multipliers of a power of ten: the steps an axis may take.
NICE_MULTIPLIERS = (1, 2, 5, 10)


@dataclass
class Chart:
    key: str
    title: str
    unit: str
    path: str = ""
    dots: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    empty: bool = True
    latest: str | None = None
    width: int = PLOT_W
    height: int = PLOT_H


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 x 10^n that is at least ``raw`` (> 0)."""
    exponent = math.floor(math.log10(raw))
    for multiplier in NICE_MULTIPLIERS:
        step = multiplier * 10.0**exponent
        if step >= raw * (1 - 1e-9):  # 0.3 / 3 is 0.09999…: still a step of 0.1
            return step
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop ends with 10 x 10^n >= raw


def nice_ticks(maximum: float, intervals: int = Y_INTERVALS) -> list[float]:
    """Ticks from 0 on a 1-2-5 step up to the first one at or above ``maximum``.

    Two to ``intervals`` intervals: the step is the smallest nice one that needs no more.
    An empty or all-zero series gets 0 … 1.
    """
    if not math.isfinite(maximum) or maximum <= 0:
        maximum = 1.0
    step = nice_step(maximum / intervals)
    count = max(1, math.ceil(maximum / step - 1e-9))
    digits = step_decimals(step)
    return [round(i * step, digits) for i in range(count + 1)]


def step_decimals(step: float) -> int:
    """Decimals a tick of this step needs: 0 for 5, 1 for 0.5, 2 for 0.02."""
    return max(0, -math.floor(math.log10(step) + 1e-9))


def _plain(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def line_chart(
    key: str,
    title: str,
    unit: str,
    labels: list[str],
    values: list[float | None],
    *,
    number: Callable[[float, int], str] = _plain,
) -> Chart:
    """A chart of ``values`` (already in ``unit``) labelled by ``labels``; ``number`` formats a tick."""
    chart = Chart(key=key, title=title, unit=unit)
    present = [v for v in values if v is not None]
    chart.empty = not present
    ticks = nice_ticks(max(present, default=0.0))
    top = ticks[-1]
    digits = step_decimals(ticks[1] - ticks[0])
    chart.latest = f"{number(present[-1], max(digits, 1))} {unit}".strip() if present else None
    chart.y_ticks = [
        {
            "value": tick,
            "label": number(tick, digits),
            "pct": round(100 * (1 - tick / top), 3),
            "y": round(PLOT_H * (1 - tick / top), 1),
        }
        for tick in ticks
    ]
    count = len(values)
    xs = x_positions(count)
    step = max(1, math.ceil(count / X_LABELS))
    for n, i in enumerate(range(0, count, step)):
        pct = round(100 * xs[i] / PLOT_W, 3)
        anchor = "start" if pct < 5 else "end" if pct > 95 else "middle"  # edge labels stay inside the plot
        chart.x_ticks.append({"x": xs[i], "pct": pct, "label": labels[i], "minor": n % 2 == 1, "anchor": anchor})
    commands: list[str] = []
    pen_down = False
    for index, value in enumerate(values):
        if value is None:
            pen_down = False
            continue
        x = xs[index]
        y = round(PLOT_H * (1 - value / top), 1)
        commands.append(f"{'L' if pen_down else 'M'}{x} {y}")
        pen_down = True
        if count <= MAX_DOTS:
            text = f"{labels[index]}: {number(value, max(digits, 1))} {unit}".strip()
            chart.dots.append({"x": x, "y": y, "label": text})
    chart.path = " ".join(commands)
    return chart


@lru_cache(maxsize=16)
def x_positions(count: int) -> tuple[float, ...]:
    """Where each of ``count`` points lies across the plot (the page's three charts share them)."""
    if count == 1:
        return (PLOT_W / 2,)
    return tuple(round(PLOT_W * index / (count - 1), 1) for index in range(count))


def hour_label(iso_hour: str) -> str:
    """``2026-11-28T07:00:00Z`` -> ``28 07:00`` (UTC; the page says so)."""
    return f"{iso_hour[8:10]} {iso_hour[11:16]}"
