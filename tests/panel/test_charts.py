"""Chart geometry: Y ticks on 1-2-5 steps from 0, labels that match them, gaps that break the line."""

from __future__ import annotations

import math
import random
import re

import pytest

from stask.web.charts import PLOT_H, PLOT_W, line_chart, nice_step, nice_ticks

NICE = (1, 2, 5)


def is_nice(step: float) -> bool:
    """Whether ``step`` is 1, 2 or 5 times a power of ten."""
    exponent = math.floor(math.log10(step) + 1e-9)
    return any(math.isclose(step, m * 10.0**exponent, rel_tol=1e-9) for m in NICE)


@pytest.mark.parametrize(
    ("raw", "step"),
    [(1, 1), (1.1, 2), (2, 2), (2.01, 5), (4.5, 5), (5.01, 10), (0.3 / 3, 0.1), (0.125, 0.2), (1394, 2000)],
)
def test_the_step_is_the_smallest_nice_one_at_least_the_raw_step(raw: float, step: float) -> None:
    assert math.isclose(nice_step(raw), step)


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (5.575, [0, 2, 4, 6]),  # a p95 of 5575 ms shown in seconds
        (2.5, [0, 0.5, 1, 1.5, 2, 2.5]),  # the old axis cut this in quarters: 0.625, 1.875
        (0.8, [0, 0.2, 0.4, 0.6, 0.8]),
        (64, [0, 20, 40, 60, 80]),
        (100, [0, 20, 40, 60, 80, 100]),
        (0, [0, 0.2, 0.4, 0.6, 0.8, 1]),  # an empty chart still has an axis
        (7, [0, 2, 4, 6, 8]),
    ],
)
def test_ticks_for_known_maxima(maximum: float, ticks: list[float]) -> None:
    assert nice_ticks(maximum) == ticks


def test_ticks_are_even_1_2_5_steps_from_zero_to_the_first_one_above_the_maximum() -> None:
    rng = random.Random(13)
    maxima = [rng.uniform(0.001, 1e7) for _ in range(500)] + [10.0**e for e in range(-3, 8)]
    for maximum in maxima:
        ticks = nice_ticks(maximum)
        step = ticks[1] - ticks[0]
        assert ticks[0] == 0 and is_nice(step), (maximum, ticks)
        assert all(math.isclose(b - a, step, rel_tol=1e-6) for a, b in zip(ticks, ticks[1:], strict=False)), ticks
        assert ticks[-1] >= maximum * (1 - 1e-9) and ticks[-2] < maximum, (maximum, ticks)
        assert 3 <= len(ticks) <= 6, (maximum, ticks)  # two to five intervals: readable, never crowded


def test_a_chart_labels_its_ticks_and_scales_its_points_to_the_top_tick() -> None:
    chart = line_chart("p95", "p95 run time", "sec", ["a", "b", "c", "d"], [1.2, None, 5.575, 3.0])
    assert [t["label"] for t in chart.y_ticks] == ["0", "2", "4", "6"]
    assert [t["pct"] for t in chart.y_ticks] == [100, pytest.approx(66.667), pytest.approx(33.333), 0]
    points = [tuple(map(float, p)) for p in re.findall(r"[ML]([\d.]+) ([\d.]+)", chart.path)]
    assert chart.path.count("M") == 2  # the missing hour breaks the line
    assert all(0 <= x <= PLOT_W and 0 <= y <= PLOT_H for x, y in points)
    assert points[1] == (pytest.approx(PLOT_W * 2 / 3, abs=0.1), pytest.approx(PLOT_H * (1 - 5.575 / 6), abs=0.1))
    assert chart.latest == "3.0 sec" and chart.dots[1]["label"] == "c: 5.6 sec"


def test_tick_labels_carry_the_decimals_of_their_step() -> None:
    chart = line_chart("t", "Throughput", "tasks/min", ["a", "b"], [0.03, 0.07])
    assert [t["label"] for t in chart.y_ticks] == ["0.00", "0.02", "0.04", "0.06", "0.08"]


def test_edge_hour_labels_stay_inside_the_plot_and_every_other_one_is_minor() -> None:
    labels = [f"h{i}" for i in range(24)]
    chart = line_chart("t", "Throughput", "tasks/min", labels, [1.0] * 24)
    assert chart.x_ticks[0]["anchor"] == "start" and chart.x_ticks[0]["pct"] == 0
    assert [t["minor"] for t in chart.x_ticks] == [i % 2 == 1 for i in range(len(chart.x_ticks))]
    assert len(chart.x_ticks) <= 6
