"""Smoke test of the benchmark (``python -m bench``) so the script cannot rot.

Runs the smallest configuration of section 2 on SQLite and checks the counts (never timings):
the statements per task stay within the 3-statement budget and Redis commands are counted.
"""

from __future__ import annotations

from bench import engine
from bench.__main__ import SMOKE
from bench.env import BenchEnv
from bench.report import rows
from tests.support.apps import close_app


def test_statements_per_task_within_budget(redis_url: str) -> None:
    env = BenchEnv(redis_url, None)
    try:
        counts = engine.statements(env, SMOKE.statements)
    finally:
        env.close()
        for app in env._apps.values():  # BenchEnv.close() disposes the engines only
            close_app(app)
        env.redis.close()
    many, single = counts["stask_create_many"], counts["stask_create"]
    assert many["tasks"] == single["tasks"] == SMOKE.statements
    # create_many: one INSERT for all, then a claim and a finish UPDATE per task.
    assert many["sql_kinds"] == {"INSERT": 1, "UPDATE": 2 * SMOKE.statements}
    assert single["sql_kinds"] == {"INSERT": SMOKE.statements, "UPDATE": 2 * SMOKE.statements}
    assert many["sql_per_task"] <= 3 and single["sql_per_task"] <= 3
    for key in ("stask_create_many", "stask_create", "bare_enqueue_many", "bare_enqueue"):
        assert counts[key]["redis_per_task"] > 0, key
    assert counts["bare_enqueue_many"]["sql_per_task"] == 0
    verdicts = {row.measure: row.verdict for row in rows({"statements": counts}) if row.section == "2 SQL"}
    assert set(verdicts.values()) == {"PASS"}
