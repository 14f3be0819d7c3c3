"""Retry policy: how many attempts, and how long to wait before the next one."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    ``ceiling = min(cap, base * 2 ** (attempt - 1))``; the delay is drawn uniformly from
    ``[ceiling / 2, ceiling]`` ("equal jitter"): it still grows exponentially, yet tasks
    that failed together do not all come back in the same second.
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
