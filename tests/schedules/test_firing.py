"""Who fires schedules: racing processes (one task per slot), worker processes, the leader lock."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import Status
from stask.models import StoredSchedule, Task, utcnow
from stask.scheduling.slots import CATCH_UP_LIMIT
from stask.service.schedule_loop import ScheduleLoop
from tests.schedules import racer
from tests.support.apps import redis_of, run_worker
from tests.support.environment import ROOT
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop, worker_env

RACERS = 4
SCHEDULES = 1000


def pause_code_schedules(app: Flask) -> None:
    db = app.extensions["stask"].db
    db.session.execute(sa.update(StoredSchedule).where(StoredSchedule.source == "code").values(enabled=False))
    db.session.commit()


def schedule_rows(now: Any, **changes: Any) -> dict[str, Any]:
    return {
        "name": "race",
        "identifier": "echo",
        "action": "noop",
        "data": {},
        "priority": "low",
        "interval": 3600,
        "timezone": "UTC",
        "enabled": True,
        "misfire": "run_once",
        "overlap": "allow",
        "jitter": 0,
        "anchor": now - timedelta(seconds=10),
        "next_run_at": now - timedelta(seconds=10),
        "source": "panel",
        "created_at": now,
        "updated_at": now,
        **changes,
    }


def test_racing_processes_create_exactly_one_task_per_due_slot(app: Flask) -> None:
    """4 OS processes fire the same 1,000 due schedules (and a catch_up schedule with 100 missed
    slots to take in turn) at the same moment: exactly one task per slot."""
    pause_code_schedules(app)
    db = app.extensions["stask"].db
    now = utcnow().replace(microsecond=0)
    rows = [schedule_rows(now, name=f"race {k}") for k in range(SCHEDULES)]
    rows.append(
        schedule_rows(
            now,
            name="catching up",
            interval=60,
            misfire="catch_up",
            anchor=now - timedelta(hours=5),
            next_run_at=now - timedelta(hours=5),
        )
    )
    db.session.execute(sa.insert(StoredSchedule), rows)
    db.session.commit()
    client = redis_of(app)
    env = worker_env(app)
    processes = [
        subprocess.Popen(
            [*racer_command(), now.isoformat(), f"racer-{k}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for k in range(RACERS)
    ]
    try:
        wait_for(lambda: client.llen(racer.READY) == RACERS, timeout=60, what="the racers to be ready")
        client.rpush(racer.GO, *["go"] * RACERS)
        for process in processes:
            output = process.communicate(timeout=120)[0].decode()
            assert process.returncode == 0, output
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    reports = [line.decode().split() for line in client.lrange(racer.DONE, 0, -1)]
    created = sum(int(created) for _name, created, _lost in reports)
    slots = db.session.execute(
        sa.select(Task.schedule_id, Task.scheduled_for).where(Task.schedule_id.is_not(None))
    ).all()
    db.session.commit()
    expected = SCHEDULES + CATCH_UP_LIMIT
    assert len(reports) == RACERS
    assert created == len(slots) == len(set(slots)) == expected
    catching_up = db.session.scalar(sa.select(StoredSchedule).where(StoredSchedule.name == "catching up"))
    assert catching_up.next_run_at > now
    assert not db.session.scalar(
        sa.select(sa.func.count())
        .select_from(StoredSchedule)
        .where(StoredSchedule.enabled.is_(True), StoredSchedule.next_run_at <= now)
    )


def racer_command() -> list[str]:
    return [sys.executable, "-m", "tests.schedules.racer"]


def test_a_worker_process_fires_due_schedules(sqlite_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    pause_code_schedules(sqlite_app)
    stask = sqlite_app.extensions["stask"]
    schedules = sqlite_app.extensions["stask.service"].schedules
    row = schedules.create({"identifier": "echo", "action": "say", "interval": 1, "data": {"text": "tick"}})
    schedule_id = row.id
    sqlite_app.extensions["stask"].db.session.remove()
    monkeypatch.setenv("STASK_SCHEDULER_INTERVAL", "0.2")  # worker_env copies os.environ
    worker = spawn_worker(sqlite_app, "simple")
    try:

        def finished() -> list[Any]:
            stask.db.session.commit()
            done = stask.db.session.scalars(
                sa.select(Task).where(Task.schedule_id == schedule_id, Task.status == int(Status.FINISHED))
            ).all()
            return list(done) if len(done) >= 2 else []

        tasks = wait_for(finished, timeout=30, what="the worker process to fire the schedule twice")
    finally:
        stop(worker)
    assert len({t.scheduled_for for t in tasks}) == len(tasks)
    assert all(t.message == "hello tick" for t in tasks)


def test_one_process_leads_and_hands_over_when_it_stops(sqlite_app: Flask) -> None:
    pause_code_schedules(sqlite_app)
    first = ScheduleLoop(sqlite_app, "first", 60)
    second = ScheduleLoop(sqlite_app, "second", 60)
    assert first.fire_once() is not None
    assert second.fire_once() is None  # the first one leads
    assert first.fire_once() is not None  # and keeps leading
    first.start()
    first.stop()  # gives the lead away
    assert second.fire_once() is not None


def test_the_loop_survives_an_unreachable_database(app_without_database: Flask) -> None:
    loop = ScheduleLoop(app_without_database, "lonely", 60)
    assert loop.fire_once() is None  # logged, not raised


def test_a_burst_worker_leaves_schedules_alone(sqlite_app: Flask) -> None:
    """Draining the queues costs only the tasks' statements: no firing pass (the SQL budget tests rely on it)."""
    pause_code_schedules(sqlite_app)
    service = sqlite_app.extensions["stask.service"].schedules
    row = service.create({"identifier": "echo", "action": "noop", "interval": 60})
    db = sqlite_app.extensions["stask"].db
    db.session.execute(sa.update(StoredSchedule).where(StoredSchedule.id == row.id).values(next_run_at=utcnow()))
    db.session.commit()
    run_worker(sqlite_app)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0
