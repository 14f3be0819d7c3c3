"""A stask job's Redis cost in a worker process, and the bookkeeping RQ is left with.

stask trims RQ's per-job round trips (keep-alive and suspension check at most once a second,
one preparation pipeline, success bookkeeping without the dependents' watch): what remains must
still be RQ's state after a job, so RQ's own tools and dashboards read it as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis.connection
import sqlalchemy as sa
from flask import Flask
from rq import Queue
from rq.job import Job, JobStatus
from rq.worker import WorkerStatus

from stask.engine.horse_redis import NextHorseConnection
from stask.engine.processes import build_worker
from stask.engine.queues import job_id

#: Round trips per stask job in a simple worker draining its queues in burst mode: an LPOP of
#: the empty ``high`` queue and of ``normal``, the job's hash, its preparation, its success
#: (5; RQ 3.0 itself: 21). Each trimmed step put back costs at least one more per job.
MAX_ROUND_TRIPS_PER_JOB = 5.5
#: A forking worker's own round trips per stask job (its horses' are their own): 5.5 measured;
#: with RQ's preparation apart from the worker-cache version read it was 6.5.
MAX_FORK_PARENT_ROUND_TRIPS_PER_JOB = 6.0


class RoundTrips:
    """Counts requests sent to Redis by this process (a pipeline is one)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    counter = RoundTrips()
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        counter.count += 1
        send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    yield counter


def _burst(
    app: Flask, stask: Any, tasks: int, round_trips: RoundTrips, kind: str = "simple"
) -> tuple[int, Any, list[int]]:
    ids = [task.id for task in stask.create_many([{"identifier": "echo", "action": "noop"}] * tasks)]
    worker = build_worker(app, kind=kind)
    worker.maintenance_interval = 3600
    with app.app_context():
        worker.run_maintenance_tasks()
        stask.resolve_worker("echo")
        before = round_trips.count
        worker.work(burst=True, logging_level="WARNING")
    return round_trips.count - before, worker, ids


def test_a_stask_job_costs_a_simple_worker_few_redis_round_trips(
    sqlite_app: Flask, round_trips: RoundTrips, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once a second is the rule; a loaded machine's slower burst must not count its extra seconds.
    monkeypatch.setattr("stask.engine.processes.KEEPALIVE_EVERY", 3600.0)
    stask = sqlite_app.extensions["stask"]
    with sqlite_app.app_context():
        few, _, _ = _burst(sqlite_app, stask, 5, round_trips)
        many, _, _ = _burst(sqlite_app, stask, 165, round_trips)
    per_job = (many - few) / 160  # the fixed cost of a burst (register, maintenance, leave) cancels out
    assert per_job <= MAX_ROUND_TRIPS_PER_JOB, per_job
    assert stask.get_stats()["finished"] == 170


def test_a_stask_job_costs_a_forking_worker_few_redis_round_trips(
    sqlite_app: Flask, round_trips: RoundTrips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's part: RQ's two preparations of a job go out in one pipeline with the
    worker-cache version read, before the fork. The horse's requests are not counted, nor the
    greeting of the connection the parent opens for its next horse (the horse's otherwise)."""
    monkeypatch.setattr("stask.engine.processes.KEEPALIVE_EVERY", 3600.0)
    make_ready = NextHorseConnection.make_ready

    def uncounted(self: NextHorseConnection) -> None:
        before = round_trips.count
        make_ready(self)
        round_trips.count = before

    monkeypatch.setattr(NextHorseConnection, "make_ready", uncounted)
    stask = sqlite_app.extensions["stask"]
    with sqlite_app.app_context():
        few, _, _ = _burst(sqlite_app, stask, 3, round_trips, "fork")
        many, _, _ = _burst(sqlite_app, stask, 43, round_trips, "fork")
    per_job = (many - few) / 40
    assert per_job <= MAX_FORK_PARENT_ROUND_TRIPS_PER_JOB, per_job
    assert stask.get_stats()["finished"] == 46


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_rq_bookkeeping_after_stask_jobs_is_rqs_own(sqlite_app: Flask, round_trips: RoundTrips, kind: str) -> None:
    stask = sqlite_app.extensions["stask"]
    connection = stask.runtime.redis
    with sqlite_app.app_context():
        _, worker, ids = _burst(sqlite_app, stask, 6, round_trips, kind)
    worker.refresh()  # the counters and the state as RQ stored them
    assert worker.successful_job_count == 6
    assert worker.total_working_time > 0
    assert worker.get_state() == WorkerStatus.IDLE
    queue = Queue("normal", connection=connection)
    assert queue.started_job_registry.count == 0
    finished = set(queue.finished_job_registry.get_job_ids())
    for task_id in ids:
        job = Job.fetch(job_id(task_id, 1), connection=connection)
        assert job.get_status() == JobStatus.FINISHED
        assert job.id in finished
        result = job.latest_result()
        assert result is not None and result.type == result.Type.SUCCESSFUL
    assert not connection.keys("rq:execution:*"), "every execution was cleaned up"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_worker_processes_commit_without_waiting_for_the_disk_only_when_told(
    app: Flask, make_app: Callable[..., Flask]
) -> None:
    def synchronous_commit(flask_app: Flask) -> str:
        with flask_app.app_context():
            session = flask_app.extensions["stask"].db.session
            value = str(session.execute(sa.text("SHOW synchronous_commit")).scalar())
            session.rollback()
            return value

    build_worker(app, kind="simple")
    assert synchronous_commit(app) == "on"  # by default a worker waits for the disk, as everything else

    relaxed = make_app("postgresql", STASK_WORKER_SYNC_COMMIT=False)
    assert synchronous_commit(relaxed) == "on"  # the web app, the API, code outside a worker
    build_worker(relaxed, kind="simple")
    assert synchronous_commit(relaxed) == "off"
