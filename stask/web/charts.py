"""Server-rendered SVG line charts: geometry computed here, markup in a Jinja macro.

No chart library and no script: the page must work under a CSP without 'unsafe-inline'
and without any CDN. Missing values (an hour without data) break the line instead of
being drawn as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT = 640, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 26
#: Dots (with a tooltip each) are drawn only when there are few enough points to hover.
MAX_DOTS = 96


@dataclass
class Chart:
    key: str
    title: str
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    path: str = ""
    dots: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    empty: bool = True
    latest: float | None = None
    plot: dict[str, float] = field(default_factory=dict)


def nice_max(value: float) -> float:
    """The next round number above ``value`` (1, 2, 2.5, 5 x 10^n), so the axis reads well."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _format(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def line_chart(key: str, title: str, unit: str, labels: list[str], values: list[float | None]) -> Chart:
    chart = Chart(key=key, title=title, unit=unit)
    left, top = PAD_LEFT, PAD_TOP
    inner_w = chart.width - PAD_LEFT - PAD_RIGHT
    inner_h = chart.height - PAD_TOP - PAD_BOTTOM
    chart.plot = {"x": left, "y": top, "w": inner_w, "h": inner_h, "bottom": top + inner_h}
    present = [v for v in values if v is not None]
    chart.empty = not present
    chart.latest = present[-1] if present else None
    top_value = nice_max(max(present, default=0.0))
    for i in range(5):
        fraction = i / 4
        chart.y_ticks.append({"y": round(top + inner_h * (1 - fraction), 1), "label": _format(top_value * fraction)})
    count = len(values)

    def x_at(index: int) -> float:
        return round(left + (inner_w * index / (count - 1) if count > 1 else inner_w / 2), 1)

    step = max(1, math.ceil(count / 6))
    chart.x_ticks = [{"x": x_at(i), "label": labels[i]} for i in range(0, count, step)]
    commands: list[str] = []
    pen_down = False
    for index, value in enumerate(values):
        if value is None:
            pen_down = False
            continue
        x = x_at(index)
        y = round(top + inner_h * (1 - value / top_value), 1)
        commands.append(f"{'L' if pen_down else 'M'}{x} {y}")
        pen_down = True
        if count <= MAX_DOTS:
            chart.dots.append({"x": x, "y": y, "label": f"{labels[index]}: {_format(round(value, 3))} {unit}".strip()})
    chart.path = " ".join(commands)
    return chart


def hour_label(iso_hour: str) -> str:
    """``2026-11-28T07:00:00Z`` -> ``28 07:00`` (UTC; the page says so)."""
    return f"{iso_hour[8:10]} {iso_hour[11:16]}"
