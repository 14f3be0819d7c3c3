"""Performance figures against tasks with known durations and outcomes, on every database."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from stask import Task
from stask.exceptions import InvalidInput
from stask.models import utcnow
from stask.monitoring.metrics import Distribution, Stats, bucket, parse_hours, sum_of_kept, summary, worker_stats
from stask.monitoring.rollups import HourlyStats
from tests.support.apps import run_worker
from tests.support.monitoring import add_rows


def crafted_history(stask: Any, now: datetime) -> None:
    """100 finished (run 1..100 ms, wait 10..1000 ms) over 20 hours, 10 failed, 5 cancelled,
    3 outside a 24 h window, 2 queued and 1 running."""
    rows: list[dict[str, Any]] = []
    for i in range(1, 101):
        rows.append(
            {
                "status": 80,
                "finished_at": now - timedelta(minutes=12 * i - 6),
                "run_ms": i,
                "wait_ms": 10 * i,
                "peak_memory_kb": 1000 + i,
                "attempts": 2 if i <= 7 else 1,
            }
        )
    for i in range(10):
        rows.append(
            {
                "identifier": "flaky",
                "action": "run",
                "status": 100,
                "run_ms": 1000,
                "wait_ms": 0,
                "finished_at": now - timedelta(minutes=50 * i + 3),
                "error": "RuntimeError: boom" if i < 6 else "RuntimeError: bang",
                "attempts": 3,
            }
        )
    for i in range(5):
        rows.append({"identifier": "flaky", "action": "give_up", "status": 90, "finished_at": now - timedelta(hours=i)})
    for i in range(3):
        rows.append({"status": 80, "finished_at": now - timedelta(hours=30 + i), "run_ms": 99999, "wait_ms": 5})
    rows += [{"status": 10}, {"status": 10, "identifier": "slow", "action": "sleep"}, {"status": 50}]
    add_rows(stask, rows)


def test_summary_is_exact_on_known_data(stask: Any) -> None:
    now = utcnow()
    crafted_history(stask, now)
    with_rollups = summary(stask.db.session, 24, now=now)
    rolled = stask.db.session.scalar(sa.select(sa.func.count()).select_from(HourlyStats))
    assert rolled > 0  # the closed hours were rolled up ...
    again = summary(stask.db.session, 24, now=now)
    assert again == with_rollups  # ... and reading them back gives the very same figures

    assert with_rollups["totals"] == {
        "pending": 2,
        "preparing": 0,
        "running": 1,
        "finished": 100,
        "cancelled": 5,
        "failed": 10,
        "completed": 115,
        "retried": 17,
    }
    assert with_rollups["throughput_per_minute"] == round(115 / 1440, 3)
    assert with_rollups["success_rate"] == round(100 / 110, 4)
    assert with_rollups["error_rate"] == round(10 / 110, 4)
    run = with_rollups["run_ms"]
    # 1..100 plus ten 1000s: rank ceil(.5*110)=55 -> 55; rank ceil(.95*110)=105 -> 1000
    assert run == {"count": 110, "avg": round((5050 + 10000) / 110, 1), "p50": 55, "p95": 1000, "max": 1000}
    wait = with_rollups["wait_ms"]
    # 10..1000 step 10 plus ten 0s: rank 55 -> the 45th of the tens = 450; rank 105 -> 950
    assert wait == {"count": 110, "avg": round(50500 / 110, 1), "p50": 450, "p95": 950, "max": 1000}
    assert with_rollups["peak_memory_kb"] == {"count": 100, "avg": 1050.5, "max": 1100}
    assert [(e["message"], e["count"]) for e in with_rollups["top_errors"]] == [
        ("RuntimeError: boom", 6),
        ("RuntimeError: bang", 4),
    ]
    points = with_rollups["series"]
    assert len(points) in (25, 26)  # every hour touched by the window, partial ends included
    assert sum(p["finished"] for p in points) == 100 and sum(p["failed"] for p in points) == 10
    assert all(p["run_ms_p95"] is None or p["run_ms_p95"] >= 1 for p in points)


def test_window_bounds_and_an_idle_system(stask: Any) -> None:
    now = utcnow()
    # Idle two days ago (a read then rolls the periods up to then; rows never end in rolled periods).
    empty = summary(stask.db.session, 1, now=now - timedelta(days=2))
    assert empty["totals"]["completed"] == 0 and empty["success_rate"] is None and empty["error_rate"] is None
    assert empty["run_ms"] == {"count": 0, "avg": None, "p50": None, "p95": None, "max": None}
    add_rows(
        stask,
        [
            {"status": 80, "finished_at": now - timedelta(minutes=59), "run_ms": 10, "wait_ms": 1},
            {"status": 80, "finished_at": now - timedelta(minutes=61), "run_ms": 20, "wait_ms": 1},
            {"status": 80, "finished_at": now - timedelta(hours=2, minutes=30), "run_ms": 30, "wait_ms": 1},
        ],
    )
    assert summary(stask.db.session, 1, now=now)["run_ms"]["max"] == 10
    assert summary(stask.db.session, 2, now=now)["run_ms"]["count"] == 2
    three = summary(stask.db.session, 3, now=now)
    assert (three["run_ms"]["count"], three["run_ms"]["p50"]) == (3, 20)


def test_worker_and_action_statistics(stask: Any) -> None:
    now = utcnow()
    crafted_history(stask, now)
    workers = {w["identifier"]: w for w in worker_stats(stask.db.session, 24, now=now)}
    assert set(workers) >= {"echo", "flaky", "slow", "recorder"}
    echo = workers["echo"]
    assert (echo["finished"], echo["failed"], echo["pending"], echo["running"]) == (100, 0, 1, 1)
    assert echo["run_ms"] == {"count": 100, "avg": 50.5, "p50": 50, "p95": 95, "max": 100}
    assert echo["wait_ms"]["p95"] == 950 and echo["success_rate"] == 1.0
    flaky = workers["flaky"]
    assert (flaky["failed"], flaky["cancelled"], flaky["error_rate"]) == (10, 5, 1.0)
    assert [(a["action"], a["completed"]) for a in flaky["actions"]] == [("give_up", 5), ("run", 10)]
    assert workers["recorder"]["completed"] == 0 and workers["recorder"]["run_ms"]["p50"] is None
    assert workers["slow"]["pending"] == 1

    only = worker_stats(stask.db.session, 24, identifier="flaky", now=now)
    assert [w["identifier"] for w in only] == ["flaky"] and only[0]["top_errors"][0]["count"] == 6


def test_reading_figures_is_a_fixed_number_of_statements(stask: Any, count_queries: Any) -> None:
    now = utcnow()
    crafted_history(stask, now)
    summary(stask.db.session, 24, now=now)  # first read rolls the closed hours up
    count_queries.statements.clear()
    summary(stask.db.session, 24, now=now)
    few = count_queries.count
    add_rows(stask, [{"status": 80, "finished_at": now - timedelta(minutes=1), "run_ms": 7, "wait_ms": 7}] * 500)
    count_queries.statements.clear()
    summary(stask.db.session, 24, now=now)
    assert count_queries.count == few <= 8


def test_real_tasks_are_counted(stask: Any) -> None:
    for text in ("a", "b", "c"):
        stask.create("echo", "noop", data={"text": text})
    stask.create("flaky", "give_up", max_attempts=1)
    run_worker(stask_app(stask))
    result = summary(stask.db.session, 1)
    assert (result["totals"]["finished"], result["totals"]["failed"]) == (3, 1)
    assert result["run_ms"]["count"] == 4 and result["wait_ms"]["count"] == 4
    assert result["top_errors"] == [
        {"message": "nothing to do", "count": 1, "last_seen": result["top_errors"][0]["last_seen"]}
    ]


def stask_app(stask: Any) -> Any:
    from flask import current_app

    return current_app._get_current_object()


def test_rollups_survive_cleanup(stask: Any) -> None:
    now = utcnow()
    old = now - timedelta(days=40)
    add_rows(
        stask,
        [{"status": 80, "finished_at": old + timedelta(minutes=i), "run_ms": i, "wait_ms": 1} for i in range(1, 21)],
    )
    before = summary(stask.db.session, 24 * 45, now=now)
    assert before["run_ms"]["count"] == 20
    assert stask.cleanup(30) == 20
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0
    after = summary(stask.db.session, 24 * 45, now=now)
    assert after["run_ms"] == before["run_ms"] and after["totals"] == before["totals"]


def test_percentiles_use_nearest_rank() -> None:
    values = Distribution()
    for v in (1, 2, 3, 4):
        values.add(v, 1)
    assert (values.percentile(50), values.percentile(95), values.percentile(100)) == (2, 4, 4)
    single = Distribution()
    single.add(42, 3)
    assert single.summary() == {"count": 3, "avg": 42.0, "p50": 42, "p95": 42, "max": 42}


def test_a_summary_in_one_pass_equals_one_taken_value_by_value() -> None:
    """:meth:`Distribution.summary` reads the buckets once; the figures are those of the bucketed
    values themselves, listed one by one (nearest rank, mean of the bucket values, largest bucket)."""
    rng = random.Random(14)
    for _ in range(200):
        values = Distribution()
        listed: list[int] = []
        for _ in range(rng.randint(1, 40)):
            value, count = int(10 ** rng.uniform(0, 7)), rng.randint(1, 5)
            values.add(value, count)
            listed += [bucket(value)] * count
        listed.sort()
        nearest = {p: listed[max(1, math.ceil(p * len(listed) / 100)) - 1] for p in (1, 50, 95, 100)}
        assert values.summary() == {
            "count": len(listed),
            "avg": round(sum(listed) / len(listed), 1),
            "p50": nearest[50],
            "p95": nearest[95],
            "max": listed[-1],
        }
        assert {p: values.percentile(p) for p in nearest} == nearest
        assert Distribution([*values.counts, 0, 0]).summary() == values.summary()  # empty buckets at the end


def test_adding_up_figures_at_once_equals_merging_them_one_by_one() -> None:
    """A window's rollup rows are added up in one pass (:meth:`Stats.total`); the parts, which are
    shared between reads, stay as they were."""
    parts = []
    for index in range(5):
        part = Stats(finished=index, failed=2 * index, cancelled=1, retried=index % 2, memory_count=index)
        part.add_memory(0, 100 * index, None if index == 3 else 10 * index)
        for value in (index, 150 * (index + 1), 12_345 * index):
            part.run.add(value, index + 1)
        part.wait.add(7 * index, 2)
        part.add_error(f"E{index % 2}", index + 1, datetime(2026, 1, 1 + index))
        parts.append(part)
    before = [repr(part) for part in parts]
    one_by_one = Stats()
    for part in parts:
        one_by_one.merge(part)
    assert Stats.total(parts) == one_by_one
    assert [repr(part) for part in parts] == before
    assert Stats.total([]) == Stats()
    assert Distribution.total([Distribution([0, 3]), Distribution(), Distribution([1, 0, 0, 2])]).counts == [1, 3, 0, 2]


def test_a_sum_of_kept_figures_is_kept_for_the_same_parts_only() -> None:
    """The sum of a window's kept rollup figures is kept between reads (a 30-day page adds up the
    same month at each refresh), but only for the very same parts: other parts, even as many and
    equal in value, are added up again."""
    first, second, third = (Stats(finished=n) for n in (1, 2, 3))
    for part, value in ((first, 10), (second, 2_000), (third, 60_000)):
        part.run.add(value, 1)
    total = sum_of_kept([first, second])
    assert total == Stats.total([first, second]) and total.finished == 3
    assert sum_of_kept([first, second]) is total  # the same parts: the kept sum, not added up again
    other = sum_of_kept([first, third])
    assert other.finished == 4 and other.run.percentile(100) == 60_000
    lookalike = sum_of_kept([first, Stats(finished=2, run=Distribution(list(second.run.counts)))])
    assert lookalike == total and lookalike is not total


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "9999999", " ", "24h", " 24", "\u00b2", "1e3", ""])
def test_bad_hours_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_hours(raw)
    assert parse_hours("48") == 48 and parse_hours(None) == 24
