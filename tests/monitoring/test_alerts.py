"""Alert rules firing and clearing on crafted data, silence when idle, and real delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from rq import Worker as RQWorker

from stask import Task
from stask.models import utcnow
from stask.monitoring.alerts import deliver_alerts, evaluate
from tests.support.monitoring import MailSink, Recorder, add_rows
from tests.support.plugins import SlowWorker
from tests.support.servers import RedisServer


def by_key(app: Flask) -> dict[str, dict[str, Any]]:
    return {alert["key"]: alert for alert in evaluate(app)}


def task_ids(stask: Any) -> list[int]:
    return list(stask.db.session.scalars(sa.select(Task.id).order_by(Task.id)))


def failures(stask: Any, failed: int, finished: int, minutes_ago: float = 2, **extra: Any) -> None:
    now = utcnow()
    rows = [{"status": 100, "error": "RuntimeError: boom", "run_ms": 5, "wait_ms": 1, **extra} for _ in range(failed)]
    rows += [{"status": 80, "run_ms": 5, "wait_ms": 1, **extra} for _ in range(finished)]
    for row in rows:
        row["finished_at"] = now - timedelta(minutes=minutes_ago)
    add_rows(stask, rows)


def test_an_idle_system_raises_nothing(app: Flask) -> None:
    assert evaluate(app) == []


def test_failure_rate_fires_then_clears(app: Flask, stask: Any) -> None:
    failures(stask, failed=2, finished=0)
    assert evaluate(app) == []  # two tasks are too few to judge (STASK_ALERT_MIN_TASKS = 5)
    failures(stask, failed=4, finished=4)
    alert = by_key(app)["failure_rate"]
    assert (alert["type"], alert["severity"], alert["value"], alert["threshold"]) == (
        "failure_rate",
        "warning",
        0.6,
        0.25,
    )
    assert "6 of 10" in alert["message"] and alert["since"].endswith("Z")
    assert by_key(app)["failure_rate"]["since"] == alert["since"]  # kept in Redis between evaluations
    failures(stask, failed=0, finished=30)
    assert "failure_rate" not in by_key(app)
    assert not stask.runtime.redis.hexists("stask:alerts:since", "failure_rate")
    failures(stask, failed=0, finished=1, minutes_ago=30)  # outside the 15-minute window: ignored
    assert evaluate(app) == []


def test_p95_limit_per_worker(make_app: Callable[..., Flask]) -> None:
    app = make_app(STASK_ALERT_P95_MS_ECHO=50, STASK_ALERT_P95_MS_WORKERS='{"slow": 1000}')
    # The same deployment with a stricter limit for "slow" (built first: building empties the tables).
    stricter = make_app(STASK_ALERT_P95_MS_ECHO=50, STASK_ALERT_P95_MS_WORKERS={"slow": 800})
    with app.app_context():
        stask = app.extensions["stask"]
        stask.discover_workers()
        now = utcnow()
        add_rows(stask, [{"status": 80, "run_ms": ms, "wait_ms": 0, "finished_at": now} for ms in range(10, 110, 10)])
        add_rows(
            stask,
            [
                {
                    "identifier": "flaky",
                    "action": "run",
                    "status": 80,
                    "run_ms": 100_000,
                    "wait_ms": 0,
                    "finished_at": now,
                }
                for _ in range(5)
            ],
        )
        add_rows(
            stask,
            [
                {"identifier": "slow", "action": "sleep", "status": 80, "run_ms": 900, "wait_ms": 0, "finished_at": now}
                for _ in range(5)
            ],
        )
        alerts = by_key(app)
        assert set(alerts) == {"p95_run_time:echo"}  # flaky is under the 600 s default, slow under its 1000
        assert (alerts["p95_run_time:echo"]["value"], alerts["p95_run_time:echo"]["threshold"]) == (100, 50)
    with stricter.app_context():
        assert set(by_key(stricter)) == {"p95_run_time:echo", "p95_run_time:slow"}


def test_queue_wait_and_no_worker(app: Flask, stask: Any) -> None:
    now = utcnow()
    add_rows(
        stask,
        [
            {"status": 10, "priority": "high", "created_at": now - timedelta(minutes=10)},
            {"status": 10, "priority": "low", "created_at": now - timedelta(seconds=1)},
            {
                "status": 10,
                "priority": "low",
                "created_at": now - timedelta(hours=1),
                "start_at": now + timedelta(hours=1),
            },
        ],
    )  # scheduled later: not waiting
    alerts = by_key(app)
    assert set(alerts) == {"queue_wait:high", "no_worker"}
    assert alerts["queue_wait:high"]["threshold"] == 300 and 590 < alerts["queue_wait:high"]["value"] < 700
    assert alerts["no_worker"]["severity"] == "critical" and alerts["no_worker"]["value"] == 1

    worker = RQWorker(list(stask.runtime.transport.queues.values()), connection=stask.runtime.redis)
    worker.register_birth()  # a live RQ worker (its key exists) serving our queues
    try:
        assert set(by_key(app)) == {"queue_wait:high"}
    finally:
        worker.register_death()
    stask.cancel(task_ids(stask)[0])
    assert evaluate(app) == []


def test_stuck_tasks(app: Flask, stask: Any) -> None:
    now = utcnow()
    add_rows(
        stask,
        [
            {"status": 50, "started_at": now - timedelta(seconds=10)},  # no heartbeat (TTL is 2 s here)
            {"status": 50, "started_at": now},
        ],
    )  # just started: fine
    alert = by_key(app)["stuck_tasks"]
    assert (alert["value"], alert["threshold"]) == (1, 0)
    first = task_ids(stask)[0]
    assert alert["message"].endswith(f": {first}")
    stask.runtime.redis.set(f"stask:hb:{first}", 1, ex=30)
    assert evaluate(app) == []
    add_rows(stask, [{"status": 50, "started_at": now - timedelta(hours=2)}])  # past its 1800 s timeout
    late = task_ids(stask)[-1]
    stask.runtime.redis.set(f"stask:hb:{late}", 1, ex=30)
    assert by_key(app)["stuck_tasks"]["message"].endswith(f": {late}")


def test_redis_unreachable(stoppable_redis: RedisServer, make_app: Callable[..., Flask]) -> None:
    app = make_app(redis_url=stoppable_redis.url)
    with app.app_context():
        assert evaluate(app) == []
        stoppable_redis.stop()
        alerts = by_key(app)
        assert set(alerts) == {"redis_unreachable"} and alerts["redis_unreachable"]["severity"] == "critical"


def test_database_unreachable(app_without_database: Flask) -> None:
    app = app_without_database
    with app.app_context():
        alerts = by_key(app)
        assert set(alerts) == {"database_unreachable"}
        assert alerts["database_unreachable"]["value"] is None


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


def test_webhook_delivery_is_signed_and_once_per_cooldown(recorder: Recorder, make_app: Callable[..., Flask]) -> None:
    app = make_app(STASK_ALERT_WEBHOOK_URL=recorder.url, STASK_ALERT_WEBHOOK_SECRET="s3cret")
    with app.app_context():
        stask = app.extensions["stask"]
        assert deliver_alerts(app) == {"webhook": 0}  # idle: nothing to send
        failures(stask, failed=5, finished=0)
        recorder.status = 500
        assert deliver_alerts(app) == {"webhook": 0} and len(recorder.received) == 1  # failed: may try again
        recorder.status = 200
        assert deliver_alerts(app) == {"webhook": 1}
        assert deliver_alerts(app) == {"webhook": 0}  # within the cool-down
        headers, body = recorder.received[-1]
        assert len(recorder.received) == 2
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-stask-signature"], expected)
        payload = json.loads(body)
        assert payload["event"] == "stask.alert" and payload["alert"]["type"] == "failure_rate"
        assert set(payload["alert"]) >= {"type", "severity", "message", "value", "threshold", "since"}

        stask.runtime.redis.delete("stask:alerts:sent:webhook:failure_rate")  # the cool-down ran out
        assert deliver_alerts(app) == {"webhook": 1}


def test_email_delivery(make_app: Callable[..., Flask]) -> None:
    sink = MailSink()
    try:
        app = make_app(
            STASK_ALERT_EMAIL_TO="ops@example.org",
            STASK_ALERT_SMTP_HOST="127.0.0.1",
            STASK_ALERT_SMTP_PORT=str(sink.port),
        )
        with app.app_context():
            failures(app.extensions["stask"], failed=5, finished=0)
            assert deliver_alerts(app) == {"email": 1}
            assert deliver_alerts(app) == {"email": 0}
        assert len(sink.messages) == 1
        assert "Subject: [stask] warning: 5 of 5 tasks failed" in sink.messages[0]
        assert "To: ops@example.org" in sink.messages[0]
    finally:
        sink.close()


def test_stuck_tasks_ask_redis_only_about_rows_within_their_timeout(
    app: Flask, stask: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An overdue running task is stuck whatever its heartbeat: only the others are looked up."""
    now = utcnow()
    add_rows(
        stask,
        [
            {"status": 50, "started_at": now - timedelta(hours=2)},  # past its 1800 s timeout
            {"status": 50, "started_at": now - timedelta(seconds=10)},  # within it, no heartbeat
            {"status": 50, "started_at": now - timedelta(seconds=10)},  # within it, beating
        ],
    )
    overdue, silent, beating = task_ids(stask)
    stask.runtime.redis.set(f"stask:hb:{beating}", 1, ex=30)
    asked: list[int] = []
    alive = stask.runtime.live.alive
    monkeypatch.setattr(stask.runtime.live, "alive", lambda ids: asked.extend(ids) or alive(ids))
    alert = by_key(app)["stuck_tasks"]
    assert sorted(asked) == sorted([silent, beating])
    assert alert["value"] == 2 and alert["message"].endswith(f": {overdue}, {silent}")


def test_each_worker_is_judged_by_its_own_timeout(app: Flask, stask: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database judges each running row by its worker's timeout plus the grace (60 s here):
    after three minutes a task of a worker with a 60 s timeout is stuck, heartbeat or not; one of
    a worker with the default 1800 s is not while it beats."""
    monkeypatch.setattr(SlowWorker, "timeout", 60)
    started = utcnow() - timedelta(minutes=3)
    add_rows(stask, [{"status": 50, "started_at": started, "identifier": name} for name in ("slow", "echo")])
    for task_id in task_ids(stask):
        stask.runtime.redis.set(f"stask:hb:{task_id}", 1, ex=30)
    slow = task_ids(stask)[0]
    alert = by_key(app)["stuck_tasks"]
    assert alert["value"] == 1 and alert["message"].endswith(f": {slow}")


def test_the_stuck_alert_counts_them_all_and_names_the_oldest_ten(app: Flask, stask: Any) -> None:
    """Overdue rows are counted in the database (up to the scan limit) and only the ten the
    message names are read; rows within their timeout without a heartbeat count too."""
    now = utcnow()
    add_rows(stask, [{"status": 50, "started_at": now - timedelta(hours=3, minutes=i)} for i in range(12)])
    add_rows(stask, [{"status": 50, "started_at": now - timedelta(seconds=10)}])  # within its timeout, silent
    ids = task_ids(stask)
    oldest_first = list(reversed(ids[:12])) + ids[12:]
    alert = by_key(app)["stuck_tasks"]
    assert alert["value"] == 13
    assert alert["message"].endswith(": " + ", ".join(str(i) for i in oldest_first[:10]) + " …")


def test_a_worker_missing_from_the_counts_is_judged_by_the_default_timeout(
    app: Flask, stask: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose first task started running after the counts were read has no cut-off of
    its own: its rows are judged by the default timeout, never left out."""
    from stask.monitoring import alerts

    add_rows(stask, [{"status": 50, "started_at": utcnow() - timedelta(hours=2)}])  # past the 1800 s default
    stask.runtime.redis.set(f"stask:hb:{task_ids(stask)[0]}", 1, ex=30)
    monkeypatch.setattr(alerts.counters, "counts", lambda session, identifier=None: {})
    assert by_key(app)["stuck_tasks"]["value"] == 1


def test_the_stuck_rule_reads_the_worker_cache_version_once(app: Flask, stask: Any) -> None:
    """Each worker of the running rows is resolved once, all under one version read (a ``GET`` each was
    a Redis round trip per worker on every evaluation of the Performance page)."""
    from stask.monitoring.alerts import stuck_tasks
    from stask.monitoring.health import service_of

    started = utcnow() - timedelta(hours=2)
    identifiers = ["w1", "w2", "w3"]
    add_rows(stask, [{"status": 50, "started_at": started, "identifier": name} for name in identifiers])
    cache = stask.runtime.workers
    client = cache._redis
    reads: list[str] = []
    get = client.get
    client.get = lambda key: reads.append(key) or get(key)
    try:
        with app.app_context():
            assert len(stuck_tasks(service_of(app), stask.db.session, utcnow())) == 3
    finally:
        del client.get
    assert reads.count(cache.version_key) == 1


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_stuck_rule_reads_the_running_index(database: str, make_app: Callable[..., Flask]) -> None:
    """The rule's statement names the partial index's predicate as it is written (status = 50), so
    the database can read the running rows oldest first from it instead of every running row."""
    from stask.monitoring.alerts import stuck_tasks
    from stask.monitoring.health import service_of

    app = make_app(database)
    with app.app_context():
        stask = app.extensions["stask"]
        add_rows(stask, [{"status": 50, "started_at": utcnow() - timedelta(hours=2)}])
        seen: list[tuple[str, Any]] = []
        engine = stask.db.engine

        def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
            if "s_tasks.started_at" in statement:
                seen.append((statement, parameters))

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            assert len(stuck_tasks(service_of(app), stask.db.session, utcnow())) == 1
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        ((statement, parameters),) = seen
        with engine.connect() as connection:
            if database == "postgresql":
                # As a prepared statement's generic plan (psycopg prepares a statement run five
                # times): a bound status would leave the partial index out.
                names = list(parameters)
                for number, name in enumerate(names, start=1):
                    statement = statement.replace(f"%({name})s", f"${number}")
                connection.exec_driver_sql("SET enable_seqscan = off")
                connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
                connection.exec_driver_sql("PREPARE stuck_probe AS " + statement)
                arguments = ", ".join(f"'{parameters[name]}'" for name in names)  # a time, a limit
                plan = connection.exec_driver_sql(f"EXPLAIN EXECUTE stuck_probe({arguments})").all()
            else:
                plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        assert "ix_s_tasks_running_started_at" in " ".join(str(row[-1]) for row in plan), plan
