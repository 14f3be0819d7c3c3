"""The Prometheus exposition parses with prometheus_client's own parser and carries real figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from stask.models import StoredSchedule, utcnow
from stask.monitoring.prometheus import render
from tests.support.monitoring import add_rows
from tests.support.schedule_rows import runs, schedule
from tests.support.servers import RedisServer


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_exposition_parses_and_matches_the_rows(app: Flask, stask: Any) -> None:
    now = utcnow()
    add_rows(
        stask,
        [
            {"status": 80, "run_ms": ms, "wait_ms": 3, "finished_at": now - timedelta(minutes=5)}
            for ms in (4, 40, 400, 4000)
        ],
    )
    add_rows(
        stask,
        [
            {
                "identifier": "flaky",
                "action": "run",
                "status": 100,
                "run_ms": 20,
                "wait_ms": 3,
                "error": "x",
                "finished_at": now - timedelta(minutes=1),
            },
            {"status": 80, "run_ms": 1, "wait_ms": 1, "finished_at": now - timedelta(hours=3)},
        ],
    )
    stask.create("echo", "say", priority="high")
    text = render(app)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {
        "stask_up",
        "stask_queue_depth",
        "stask_tasks",
        "stask_rq_workers",
        "stask_task_run_seconds",
        "stask_task_wait_seconds",
        "stask_tasks_ended",
        "stask_worker_cache_lookups",
        "stask_worker_cache_evictions",
    } <= set(families)
    assert families["stask_task_run_seconds"].type == "histogram"
    assert families["stask_worker_cache_lookups"].type == "counter"
    values = samples(text)
    assert values[("stask_up", (("component", "database"),))] == 1
    assert values[("stask_queue_depth", (("queue", "high"),))] == 1
    assert values[("stask_tasks", (("status", "finished"),))] == 5
    assert values[("stask_tasks", (("status", "queued"),))] == 1
    assert values[("stask_tasks_ended", (("identifier", "flaky"), ("status", "failed")))] == 1
    echo = (("identifier", "echo"),)
    # the hour-old task is outside the 60-minute window; 4, 40, 400, 4000 ms are inside
    assert values[("stask_task_run_seconds_count", echo)] == 4
    assert values[("stask_task_run_seconds_sum", echo)] == 4.444
    assert values[("stask_task_run_seconds_bucket", (("identifier", "echo"), ("le", "0.005")))] == 1
    assert values[("stask_task_run_seconds_bucket", (("identifier", "echo"), ("le", "0.5")))] == 3
    assert values[("stask_task_run_seconds_bucket", (("identifier", "echo"), ("le", "+Inf")))] == 4
    lookups = values[("stask_worker_cache_lookups_total", (("result", "miss"),))]
    assert lookups >= 1  # creating the task resolved its worker through the cache


def test_exposition_without_redis(stoppable_redis: RedisServer, make_app: Callable[..., Flask]) -> None:
    app = make_app(redis_url=stoppable_redis.url)
    with app.app_context():
        stoppable_redis.stop()
        values = samples(render(app))
    assert values[("stask_up", (("component", "redis"),))] == 0
    assert values[("stask_up", (("component", "database"),))] == 1
    assert not any(name == "stask_queue_depth" for name, _labels in values)


def test_per_schedule_series(app: Flask, stask: Any, count_queries: Any) -> None:
    next_run = datetime(2030, 1, 2, 3, 4, 5)
    odd = schedule(stask, name='say "hi"\\now\nplease', next_run_at=next_run)
    runs(stask, odd, [80, 100])
    paused = schedule(stask, name="paused", enabled=False, next_run_at=None)
    count_queries.statements.clear()
    text = render(app)
    schedule_selects = [s for s in count_queries.statements if "s_schedules" in s]
    assert len(schedule_selects) == 1  # one statement for every schedule
    assert 'name="say \\"hi\\"\\\\now\\nplease"' in text  # escaped per the exposition format
    values = samples(text)
    labels = (("action", "say"), ("identifier", "echo"), ("name", 'say "hi"\\now\nplease'), ("schedule", str(odd)))
    assert values[("stask_schedule_enabled", labels)] == 1
    assert (
        values[("stask_schedule_next_run_timestamp_seconds", labels)]
        == next_run.replace(tzinfo=timezone.utc).timestamp()
    )
    last_run = stask.db.session.get(StoredSchedule, odd).last_run_at
    assert values[("stask_schedule_last_run_timestamp_seconds", labels)] == pytest.approx(
        last_run.replace(tzinfo=timezone.utc).timestamp()
    )
    assert values[("stask_schedule_last_run_status", (*labels[:3], *labels[3:], ("status", "failed")))] == 100
    quiet = (("action", "say"), ("identifier", "echo"), ("name", "paused"), ("schedule", str(paused)))
    assert values[("stask_schedule_enabled", quiet)] == 0
    assert ("stask_schedule_next_run_timestamp_seconds", quiet) not in values
    assert ("stask_schedule_last_run_status", (*quiet, ("status", "failed"))) not in values
    rows = list(stask.db.session.scalars(sa.select(StoredSchedule.enabled)))  # with the test workers' own
    assert values[("stask_schedules", (("state", "enabled"),))] == rows.count(True)
    assert values[("stask_schedules", (("state", "paused"),))] == rows.count(False)
    assert values[("stask_schedules", (("state", "paused"),))] >= 1
