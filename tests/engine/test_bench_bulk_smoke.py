"""Smoke test of section 4 of the benchmark (``bench/bulk.py``) so it cannot rot: tiny sizes, SQLite,
and counts only (never timings): both sides leave every job queued, stask within its statements."""

from __future__ import annotations

from bench import bulk
from bench.env import BenchEnv
from bench.report import bulk_rows
from tests.support.apps import close_app


def test_section_4_measures_both_sides_at_each_size(redis_url: str) -> None:
    env = BenchEnv(redis_url, None)
    try:
        result = bulk.bulk(env, "sqlite", sizes=(20, 60), rounds=1)
    finally:
        env.close()
        for app in env._apps.values():  # BenchEnv.close() disposes the engines only
            close_app(app)
        env.redis.close()
    assert [size["tasks"] for size in result["sizes"]] == [20, 60]
    for size in result["sizes"]:
        assert size["stask_per_s"] > 0 and size["bare_per_s"] > 0 and size["statements"] == 1
    rows = bulk_rows(result)
    assert len(rows) == 2 and all(row.target == ">= 1.00x" and row.verdict in ("PASS", "MISS") for row in rows)
