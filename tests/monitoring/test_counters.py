"""Tasks per (worker, status) in ``s_task_counts`` stay exactly what a count over ``s_tasks`` says,
through every path that adds, changes or deletes rows, on every database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from stask import Task
from stask.models import utcnow
from stask.monitoring import counters
from stask.monitoring.metrics import bucket, bucket_index, bucket_value, scan
from stask.monitoring.rolling import rebuild
from stask.monitoring.rollups import ALL, DailyStats, HourlyStats
from stask.service import current_stask, store
from tests.support.apps import run_worker
from tests.support.monitoring import add_rows


def counted(stask: Any) -> dict[tuple[str, int], int]:
    """What a scan of the rows says."""
    rows = stask.db.session.execute(
        sa.select(Task.identifier, Task.status, sa.func.count()).group_by(Task.identifier, Task.status)
    ).all()
    stask.db.session.commit()
    return {(str(row[0]), int(row[1])): int(row[2]) for row in rows}


def kept(stask: Any) -> dict[tuple[str, int], int]:
    """What the triggers kept."""
    found = counters.counts(stask.db.session)
    stask.db.session.commit()
    return found


def assert_exact(stask: Any, step: str) -> None:
    assert kept(stask) == counted(stask), f"after {step}"


def test_counts_follow_every_path_that_changes_rows(stask: Any, app: Flask) -> None:
    assert kept(stask) == {}
    first = stask.create("echo", "say", data={"text": "a"})
    stask.create("echo", "noop")
    stask.create("flaky", "give_up", max_attempts=1)
    stask.create("flaky", "run", data={"fail_times": 1}, max_attempts=2)
    assert_exact(stask, "create")
    stask.create_many([{"identifier": "echo", "action": "noop"} for _ in range(5)])
    assert_exact(stask, "create_many")
    stask.cancel(first.id)
    assert_exact(stask, "cancel")
    run_worker(app)  # claim, finish, fail, a failed attempt retried by the engine
    assert_exact(stask, "claim and finish")
    statuses = {status for (_identifier, status) in kept(stask)}
    assert {80, 90, 100} <= statuses
    failed = stask.db.session.scalar(sa.select(Task.id).where(Task.status == 100))
    stask.db.session.commit()
    stask.retry(failed)
    assert_exact(stask, "retry")
    stask.delete(first.id)
    assert_exact(stask, "delete")
    ids = list(stask.db.session.scalars(sa.select(Task.id).where(Task.identifier == "echo").limit(3)))
    stask.db.session.commit()
    done, _refused = current_stask().tasks.bulk("delete", ids)
    assert done == ids
    assert_exact(stask, "bulk delete")
    add_rows(stask, [{"status": 80, "finished_at": utcnow() - timedelta(days=60)}] * 4)
    assert_exact(stask, "rows inserted by SQL")
    assert stask.cleanup(30) == 4
    assert_exact(stask, "cleanup")
    stask.db.session.execute(sa.update(Task).values(identifier="renamed"))
    stask.db.session.commit()
    assert_exact(stask, "a bulk UPDATE of every row")
    stask.db.session.execute(sa.delete(Task))
    stask.db.session.commit()
    assert kept(stask) == {} == counted(stask)


def test_the_dashboard_counts_read_the_counters(stask: Any, count_queries: Any) -> None:
    add_rows(stask, [{"status": 10}, {"status": 10}, {"status": 50}, {"status": 100}, {"status": 80}])
    count_queries.statements.clear()
    assert store.counts_by_status(stask.db.session) == {10: 2, 50: 1, 100: 1, 80: 1}
    assert store.failed_count(stask.db.session) == 1
    assert count_queries.statements and not any("s_tasks" in sql for sql in count_queries.statements)
    stats = current_stask().tasks.stats()
    assert (stats["failed"], stats["running"], stats["total"]) == (1, 1, 5)


def test_rebuild_recounts_what_the_triggers_did_not_see(stask: Any) -> None:
    add_rows(stask, [{"status": 80, "finished_at": utcnow() - timedelta(hours=3)}, {"status": 10}])
    session = stask.db.session
    session.execute(sa.delete(counters.TaskCount))
    session.execute(sa.insert(counters.TaskCount).values(identifier="ghost", status=10, n=7))
    session.commit()
    assert kept(stask) != counted(stask)
    done = rebuild(session)
    assert kept(stask) == counted(stask) == {("echo", 80): 1, ("echo", 10): 1}
    assert done["counters"] == 2 and done["hours"] >= 1


def test_the_backlog_count_is_capped(stask: Any) -> None:
    add_rows(stask, [{"status": 10, "priority": "high"}] * 7 + [{"status": 10, "priority": "low"}] * 2)
    due = store.backlog(stask.db.session, utcnow(), cap=5)
    stask.db.session.commit()
    assert due["high"][0] == 6  # more than the cap: cap + 1, shown as "5+"
    assert due["low"][0] == 2 and due["low"][1] is not None
    assert "normal" not in due


def backlog_statement(session: Any, priority: str, due: int) -> tuple[str, Any]:
    """The backlog's one statement as sent, with its parameters (for its plan); checks the count."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert store.backlog(session, utcnow())[priority][0] == due
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    session.commit()
    ((statement, parameters),) = seen
    return statement, parameters


def test_the_backlog_on_sqlite_is_not_read_through_the_priority_index(stask: Any) -> None:
    """Most rows share a priority: SQLite must find the queued rows through a status index (a
    million rows: 440 ms through (priority, id), 14 ms through (status, start_at))."""
    add_rows(stask, [{"status": 10, "priority": "normal"}] * 3 + [{"status": 80, "priority": "normal"}] * 3)
    session = stask.db.session
    if session.get_bind().dialect.name != "sqlite":
        return  # the plan asked about is SQLite's
    engine = session.get_bind()
    statement, parameters = backlog_statement(session, "normal", 3)
    with engine.connect() as connection:
        plan = " ".join(
            str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    assert "ix_s_tasks_priority_id" not in plan and "ix_s_tasks_status" in plan, plan


def test_the_backlog_on_mariadb_counts_through_the_index_that_holds_the_priority(stask: Any) -> None:
    """MariaDB would count through (status, start_at) and read every queued row for its priority
    (a rare priority at a million rows: 5,000 row reads, 13 ms); (status, id, ..., priority) holds
    it, so only the counted rows are read (3 ms)."""
    add_rows(stask, [{"status": 10, "priority": "normal"}] * 3 + [{"status": 10, "priority": "low"}])
    session = stask.db.session
    engine = session.get_bind()
    if engine.dialect.name not in ("mysql", "mariadb"):
        return  # the plan asked about is MariaDB's
    statement, parameters = backlog_statement(session, "low", 1)
    with engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
    counted = [row for row in plan if str(row["select_type"]) == "DERIVED"]
    assert len(counted) == 3 and all(row["key"] == "ix_s_tasks_status_id" for row in counted), plan


def test_the_bench_leaves_counters_and_rollups_consistent_with_its_rows(app: Flask, backend: str) -> None:
    from bench.pages import fill

    fill(app, backend, 500)
    stask = app.extensions["stask"]
    with app.app_context():
        assert kept(stask) == counted(stask) and sum(counted(stask).values()) == 500
        session = stask.db.session
        closed = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        midnight = closed.replace(hour=0)

        def ended_before(moment: Any) -> int:
            condition = sa.and_(Task.status.in_([80, 90, 100]), Task.finished_at < moment)
            return int(session.scalar(sa.select(sa.func.count()).where(condition)) or 0)

        def rolled(model: Any, moment: Any, every_worker: bool) -> int:
            ended = sa.func.sum(model.finished + model.failed + model.cancelled)
            which = model.identifier == ALL if every_worker else model.identifier.not_in([ALL, ""])
            return int(session.scalar(sa.select(ended).where(model.hour < moment, which)) or 0)

        in_rows = ended_before(closed)
        assert in_rows and rolled(HourlyStats, closed, False) == in_rows == rolled(HourlyStats, closed, True)
        by_day = ended_before(midnight)
        assert by_day and rolled(DailyStats, midnight, True) == by_day == rolled(DailyStats, midnight, False)
        session.commit()


def test_durations_are_bucketed_alike_in_sql_and_python(stask: Any) -> None:
    """Two significant figures, rounded down, exact below 100 ms: the rows scanned in SQL and the
    rollups merged in Python agree, so a figure does not depend on which path produced it."""
    values = [0, 5, 99, 100, 105, 999, 1000, 1049, 99_999, 123_456, 2_000_000_000]
    assert [bucket(v) for v in values] == [0, 5, 99, 100, 100, 990, 1000, 1000, 99_000, 120_000, 2_000_000_000]
    assert all(bucket_value(bucket_index(v)) == bucket(v) for v in [*values, *range(0, 20_000, 7)])
    finished = utcnow() - timedelta(minutes=1)
    add_rows(stask, [{"status": 80, "finished_at": finished, "run_ms": v, "wait_ms": v} for v in values])
    parts = scan(stask.db.session, sa.true())
    stask.db.session.commit()
    (stats,) = parts.values()
    expected: dict[int, int] = {}
    for v in values:
        expected[bucket(v)] = expected.get(bucket(v), 0) + 1
    assert stats.run.hist == expected == stats.wait.hist
