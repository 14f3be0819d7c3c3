"""Prometheus text exposition (format 0.0.4) of stask's state, written without a client library.

Gauges are read when scraped: queue depths, tasks per status, live worker processes, whether
the database and Redis answer. The run- and wait-time histograms describe the tasks
that ended in the last ``STASK_METRICS_WINDOW_MINUTES`` (default 60) — a sliding
window read from the five-minute rollup slices and the few minutes since the last one, so they
are gauges in spirit (they can go down); durations are bucketed to two significant figures.
Tasks per status come from ``s_task_counts`` (kept by triggers), never from a count of the rows. The
worker-resolution cache counters are the shared totals of every process.

Per schedule (labels ``schedule`` (the id), ``name``, ``identifier``, ``action``; one
statement for all of them): ``stask_schedule_enabled``, ``stask_schedule_next_run_timestamp_seconds``
(absent while paused or finished), ``stask_schedule_last_run_timestamp_seconds`` (absent before
the first run) and ``stask_schedule_last_run_status`` (the last task's status code, 10 … 100, with
its name in a ``status`` label; absent before the first run or once that task is deleted). At most
:data:`SCHEDULE_SERIES_LIMIT` schedules are exposed (the lowest ids), four series each;
``stask_schedules{state="enabled"|"paused"}`` counts them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from flask import Flask

from ..enums import Status
from ..models import utcnow
from ..service import schedule_health, store
from .health import check_database, check_redis, live_workers, probe_redis, service_of
from .metrics import Distribution, Stats, collect

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of the run- and wait-time histogram buckets.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
#: Schedules given per-schedule series (lowest ids first): 10,000 × 4 series bounds the response.
SCHEDULE_SERIES_LIMIT = 10_000


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[str, dict[str, str], float]]
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for suffix, labels, value in samples:
            self.lines.append(f"{name}{suffix}{_labels(labels)} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _histogram(labels: dict[str, str], values: Distribution) -> list[tuple[str, dict[str, str], float]]:
    """Cumulative bucket counts from the exact millisecond distribution."""
    samples: list[tuple[str, dict[str, str], float]] = []
    ordered = sorted(values.hist.items())
    for bound in BUCKETS:
        limit_ms = bound * 1000
        count = sum(c for v, c in ordered if v <= limit_ms)
        samples.append(("_bucket", {**labels, "le": str(bound)}, count))
    samples.append(("_bucket", {**labels, "le": "+Inf"}, values.count))
    samples.append(("_sum", labels, sum(v * c for v, c in ordered) / 1000))
    samples.append(("_count", labels, values.count))
    return samples


def render(app: Flask) -> str:
    """The whole exposition (inside an app context). Parts whose source is down are left out."""
    out = Exposition()
    database, redis_check = check_database(app), check_redis(app)
    out.family(
        "stask_up",
        "gauge",
        "Whether stask reaches a dependency (1) or not (0).",
        [("", {"component": "database"}, int(database["ok"])), ("", {"component": "redis"}, int(redis_check["ok"]))],
    )
    runtime = service_of(app).runtime
    if redis_check["ok"]:
        try:
            depth = runtime.transport.depth()
            workers = live_workers(probe_redis(app))
            cache = runtime.workers.stats()
        except redis.RedisError:
            pass
        else:
            out.family(
                "stask_queue_depth",
                "gauge",
                "Jobs waiting in each RQ queue.",
                [("", {"queue": name}, count) for name, count in depth.items()],
            )
            out.family(
                "stask_rq_workers", "gauge", "Live worker processes serving stask's queues.", [("", {}, len(workers))]
            )
            out.family(
                "stask_worker_cache_lookups_total",
                "counter",
                "Worker-resolution lookups by result, across all processes.",
                [
                    ("", {"result": "l1_hit"}, cache["l1_hits"]),
                    ("", {"result": "l2_hit"}, cache["l2_hits"]),
                    ("", {"result": "miss"}, cache["misses"]),
                ],
            )
            out.family(
                "stask_worker_cache_evictions_total",
                "counter",
                "Worker-cache entries expired or invalidated.",
                [("", {}, cache["evictions"])],
            )
    if database["ok"]:
        _database_families(app, out)
    return out.text()


def _database_families(app: Flask, out: Exposition) -> None:
    service = service_of(app)
    session: Any = service.db.session
    counts = store.counts_by_status(session)
    out.family(
        "stask_tasks",
        "gauge",
        "Tasks in s_tasks by status.",
        [("", {"status": status.text}, int(counts.get(int(status), 0))) for status in Status],
    )
    minutes = service.settings.metrics_window_minutes
    now = utcnow()
    parts = collect(session, now - timedelta(minutes=minutes), now)
    per_worker: dict[str, Stats] = {}
    for (_hour, identifier, _action), stats in parts.items():
        per_worker.setdefault(identifier, Stats()).merge(stats)
    ended: list[tuple[str, dict[str, str], float]] = []
    run: list[tuple[str, dict[str, str], float]] = []
    wait: list[tuple[str, dict[str, str], float]] = []
    for identifier, stats in sorted(per_worker.items()):
        for name in ("finished", "failed", "cancelled"):
            ended.append(("", {"identifier": identifier, "status": name}, getattr(stats, name)))
        run += _histogram({"identifier": identifier}, stats.run)
        wait += _histogram({"identifier": identifier}, stats.wait)
    window = f"in the last {minutes} minutes"
    out.family("stask_tasks_ended", "gauge", f"Tasks that ended {window}, by worker and outcome.", ended)
    out.family("stask_task_run_seconds", "histogram", f"Run time of tasks that ended {window}.", run)
    out.family("stask_task_wait_seconds", "histogram", f"Queue wait of tasks that ended {window}.", wait)
    _schedule_families(session, out)


def _timestamp(value: datetime) -> float:
    """Seconds since the epoch of a naive UTC datetime (how stask stores times)."""
    return value.replace(tzinfo=timezone.utc).timestamp()


Samples = list[tuple[str, dict[str, str], float]]


def _schedule_families(session: Any, out: Exposition) -> None:
    rows = schedule_health.figures(session, SCHEDULE_SERIES_LIMIT + 1)
    session.commit()
    enabled: Samples = []
    next_run: Samples = []
    last_run: Samples = []
    last_status: Samples = []
    for row in rows[:SCHEDULE_SERIES_LIMIT]:
        labels = {"schedule": str(row.id), "name": row.name, "identifier": row.identifier, "action": row.action}
        enabled.append(("", labels, int(bool(row.enabled))))
        if row.next_run_at is not None:
            next_run.append(("", labels, _timestamp(row.next_run_at)))
        if row.last_run_at is not None:
            last_run.append(("", labels, _timestamp(row.last_run_at)))
        if row.last_status is not None:
            code = int(row.last_status)
            name = Status(code).text if code in Status._value2member_map_ else "unknown"
            last_status.append(("", {**labels, "status": name}, code))
    if len(rows) > SCHEDULE_SERIES_LIMIT:
        counts = schedule_health.count_by_state(session)
        session.commit()
    else:
        counts = {flag: sum(1 for row in rows if bool(row.enabled) == flag) for flag in (True, False)}
    out.family(
        "stask_schedules",
        "gauge",
        f"Schedules by state (per-schedule series cover the first {SCHEDULE_SERIES_LIMIT} by id).",
        [("", {"state": "enabled"}, counts.get(True, 0)), ("", {"state": "paused"}, counts.get(False, 0))],
    )
    out.family("stask_schedule_enabled", "gauge", "Whether a schedule is enabled (1) or paused (0).", enabled)
    out.family(
        "stask_schedule_next_run_timestamp_seconds",
        "gauge",
        "The schedule's next slot, Unix time (UTC, before jitter).",
        next_run,
    )
    out.family(
        "stask_schedule_last_run_timestamp_seconds",
        "gauge",
        "When the schedule last created a task, Unix time.",
        last_run,
    )
    out.family(
        "stask_schedule_last_run_status",
        "gauge",
        "Status code of the schedule's last task (10 queued, 50 running, 80 finished, 90 cancelled, 100 failed).",
        last_status,
    )


def metric_names(text: str) -> set[str]:
    """Family names in an exposition (for tests and quick checks)."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


__all__: list[Any] = ["CONTENT_TYPE", "render"]
