"""The backoff between attempts: ``min(cap, base * 2 ** (attempt - 1))``, drawn in its upper half.

``backoff_delay`` takes the random generator as an argument; the edges of its interval are read
with a generator that always answers the lowest (or highest) value it may.
"""

from __future__ import annotations

import random

import pytest

from stask.engine.retry import backoff_delay


class Lowest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return min(a, b)


class Highest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return max(a, b)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (7, 320.0), (8, 600.0), (30, 600.0)],
)
def test_the_ceiling_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert backoff_delay(attempt, 5.0, 600.0, Highest()) == ceiling
    assert backoff_delay(attempt, 5.0, 600.0, Lowest()) == ceiling / 2  # "equal jitter": never below half


def test_an_attempt_number_below_one_waits_the_base() -> None:
    assert backoff_delay(0, 5.0, 600.0, Highest()) == 5.0


def test_delays_are_spread_over_the_upper_half() -> None:
    rng = random.Random(1234)
    delays = [backoff_delay(3, 5.0, 600.0, rng) for _ in range(500)]
    assert all(10.0 <= d <= 20.0 for d in delays)
    assert max(delays) - min(delays) > 8  # tasks that failed together do not come back together
