"""Schedules through the service: validation, firing one task per slot, overlap, misfire, code schedules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from stask import Schedule, Status
from stask.exceptions import InvalidField, InvalidState
from stask.models import StoredSchedule, Task, utcnow
from stask.scheduling.slots import jitter_seconds
from tests.schedules.plugins import SCHEDULE_WORKERS, ScheduledWorker
from tests.support.api import set_row
from tests.support.queries import Statements

pytestmark = pytest.mark.app_config(STASK_WORKERS=SCHEDULE_WORKERS)


def service(app: Any) -> Any:
    return app.extensions["stask.service"].schedules


def counts(app: Any) -> tuple[int, int]:
    db = app.extensions["stask"].db
    schedules = db.session.scalar(
        sa.select(sa.func.count()).select_from(StoredSchedule).where(StoredSchedule.source != "code")
    )
    tasks = db.session.scalar(sa.select(sa.func.count()).select_from(Task))
    db.session.commit()
    return int(schedules or 0), int(tasks or 0)


def pause_code_schedules(app: Any) -> None:
    """The built-in nightly cleanup (enabled under STASK_AUTO_ACTIVATE) must not fire in these tests."""
    schedules = service(app)
    for row in app.extensions["stask"].db.session.scalars(
        sa.select(StoredSchedule).where(StoredSchedule.source == "code")
    ):
        schedules.set_enabled(row.id, False)


def schedule_tasks(app: Any, schedule_id: int) -> list[Task]:
    db = app.extensions["stask"].db
    rows = list(db.session.scalars(sa.select(Task).where(Task.schedule_id == schedule_id).order_by(Task.scheduled_for)))
    db.session.commit()
    return rows


GOOD = {"identifier": "echo", "action": "say", "interval": 60, "data": {"text": "tick"}}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cron": "0 0 3 * * *", "interval": None}, "cron"),
        ({"cron": "not cron", "interval": None}, "cron"),
        ({"cron": "0 3 * * *"}, "cron"),  # both cron and interval
        ({"interval": None}, "cron"),  # neither
        ({"interval": 0}, "interval"),
        ({"interval": "60"}, "interval"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"identifier": "nope"}, "identifier"),
        ({"action": "nope"}, "action"),
        ({"misfire": "sometimes"}, "misfire"),
        ({"overlap": "maybe"}, "overlap"),
        ({"jitter": 60}, "jitter"),  # not shorter than the interval
        ({"jitter": -1}, "jitter"),
        ({"priority": "urgent"}, "priority"),
        ({"data": [1]}, "data"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2020-01-01T00:00:00Z"}, "end_date"),
        ({"enabled": "yes"}, "enabled"),
        ({"name": "x" * 121}, "name"),
        ({"next_run_at": "2030-01-01T00:00:00Z"}, "next_run_at"),
        ({"identifier": "scheduled", "action": "report", "data": {"rows": "ten"}}, "data.rows"),
        ({"identifier": "scheduled", "action": "report", "data": {"rows": 0}}, "data.rows"),
        ({"identifier": "scheduled", "action": "report", "data": {"format": "xml"}}, "data.format"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(app: Any, changes: dict, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        service(app).create({**GOOD, **changes})
    assert caught.value.field == field, str(caught.value)
    assert counts(app) == (0, 0)


def test_a_created_schedule_has_its_next_slot(app: Any) -> None:
    before = utcnow().replace(microsecond=0)
    row = service(app).create(
        {"identifier": "echo", "action": "say", "cron": "@daily", "timezone": "Europe/Kyiv"}, created_by="test"
    )
    stored = service(app).get(row.id).to_dict()
    assert stored["cron"] == "0 0 * * *" and stored["source"] == "panel" and stored["created_by"] == "test"
    assert stored["name"] == "echo say" and stored["enabled"] is True and stored["misfire"] == "run_once"
    next_run = datetime.fromisoformat(stored["next_run_at"][:-1])
    assert before < next_run <= before + timedelta(days=1)
    assert next_run.minute == 0 and next_run.hour in (21, 22)  # midnight in Kyiv, UTC+2 or UTC+3


def test_fire_due_creates_one_task_per_slot_with_its_schedule_and_slot(app: Any) -> None:
    pause_code_schedules(app)
    row = service(app).create(GOOD)
    slot = row.next_run_at
    assert service(app).fire_due(slot - timedelta(seconds=1)).created == []
    report = service(app).fire_due(slot + timedelta(seconds=2))
    assert len(report.created) == 1
    assert service(app).fire_due(slot + timedelta(seconds=2)).created == []  # the same slot: nothing more
    (task,) = schedule_tasks(app, row.id)
    assert (task.schedule_id, task.scheduled_for, task.identifier, task.data) == (
        row.id,
        slot,
        "echo",
        {"text": "tick"},
    )
    assert task.to_dict()["scheduled_for"] == slot.isoformat() + "Z"
    stored = service(app).get(row.id)
    assert stored.next_run_at == slot + timedelta(seconds=60) and stored.last_task_id == task.id


def test_overlap_skip_consumes_the_slot_while_the_last_task_is_still_queued_or_running(app: Any) -> None:
    pause_code_schedules(app)
    skip = service(app).create({**GOOD, "name": "skips"})
    allow = service(app).create({**GOOD, "name": "allows", "overlap": "allow"})
    first = skip.next_run_at
    at = max(first, allow.next_run_at)  # created a second apart, the two schedules' slots differ by one
    service(app).fire_due(at)
    set_row(app, schedule_tasks(app, skip.id)[0].id, status=int(Status.RUNNING))
    report = service(app).fire_due(at + timedelta(seconds=60))
    assert len(schedule_tasks(app, skip.id)) == 1 and len(schedule_tasks(app, allow.id)) == 2
    assert report.skipped == 1
    stored = service(app).get(skip.id)
    assert stored.next_run_at == first + timedelta(seconds=120)  # the slot is consumed all the same
    assert "still running" in stored.last_skip_reason
    set_row(app, schedule_tasks(app, skip.id)[0].id, status=int(Status.FINISHED))
    service(app).fire_due(at + timedelta(seconds=120))
    assert len(schedule_tasks(app, skip.id)) == 2


@pytest.mark.parametrize(("misfire", "expected"), [("skip", 0), ("run_once", 1), ("catch_up", 61)])
def test_each_misfire_policy_after_an_hour_of_downtime(app: Any, misfire: str, expected: int) -> None:
    pause_code_schedules(app)
    row = service(app).create({**GOOD, "misfire": misfire, "overlap": "allow"})
    first = row.next_run_at
    report = service(app).fire_due(first + timedelta(hours=1, seconds=5))
    tasks = schedule_tasks(app, row.id)
    assert len(report.created) == len(tasks) == expected
    if misfire == "run_once":
        assert tasks[0].scheduled_for == first + timedelta(hours=1)  # the latest missed slot
    if misfire == "catch_up":
        assert [t.scheduled_for for t in tasks] == [first + timedelta(minutes=k) for k in range(61)]
    assert service(app).get(row.id).next_run_at == first + timedelta(hours=1, minutes=1)


def test_jitter_delays_the_task_by_at_most_jitter_seconds(app: Any) -> None:
    pause_code_schedules(app)
    row = service(app).create({**GOOD, "jitter": 30})
    slot = row.next_run_at
    service(app).fire_due(slot)
    (task,) = schedule_tasks(app, row.id)
    assert task.scheduled_for == slot
    delay = jitter_seconds(row.id, slot, 30)
    assert task.start_at == (slot + timedelta(seconds=delay) if delay else None)


def test_firing_costs_statements_per_due_slot_not_per_schedule(app: Any) -> None:
    pause_code_schedules(app)
    due = service(app).create(GOOD)
    now = due.next_run_at
    db = app.extensions["stask"].db
    base = {c: getattr(due, c) for c in ("name", "identifier", "action", "priority", "timezone", "misfire", "overlap")}
    rows = [
        {**base, "interval": 60, "jitter": 0, "anchor": now, "source": "panel", "created_at": now, "updated_at": now}
        | (
            {"enabled": False, "next_run_at": None}
            if k % 2
            else {"enabled": True, "next_run_at": now + timedelta(hours=1)}
        )
        for k in range(10_000)
    ]
    db.session.execute(sa.insert(StoredSchedule), rows)
    db.session.commit()
    with Statements(app) as counted:
        report = service(app).fire_due(now)
    assert len(report.created) == 1
    # one SELECT of the due rows, the task INSERT, the guarded UPDATE (plus transaction statements), one more SELECT.
    assert len([s for s in counted.statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]) <= 4, (
        counted.statements
    )


def test_pause_resume_and_run_now(app: Any) -> None:
    pause_code_schedules(app)
    row = service(app).create(GOOD)
    paused = service(app).set_enabled(row.id, False)
    assert paused.enabled is False and paused.next_run_at is None
    assert service(app).fire_due(utcnow() + timedelta(days=1)).created == []
    task = service(app).run_now(row.id)  # a paused schedule still runs on request
    assert (task.schedule_id, task.status) == (row.id, Status.QUEUED)
    resumed = service(app).set_enabled(row.id, True)
    assert resumed.next_run_at > utcnow() and resumed.last_task_id == task.id


def test_update_recomputes_the_next_slot_when_the_timing_changes(app: Any) -> None:
    row = service(app).create(GOOD)
    changed = service(app).update(row.id, {"cron": "0 12 * * *", "timezone": "UTC"})
    assert changed.interval is None and changed.cron == "0 12 * * *"
    assert (changed.next_run_at.hour, changed.next_run_at.minute) == (12, 0)
    with pytest.raises(InvalidField):
        service(app).update(row.id, {"interval": 0})
    assert service(app).get(row.id).cron == "0 12 * * *"


# -- code schedules ------------------------------------------------------------------------------
def code_rows(app: Any) -> dict[str, StoredSchedule]:
    db = app.extensions["stask"].db
    rows = {r.name: r for r in db.session.scalars(sa.select(StoredSchedule).where(StoredSchedule.source == "code"))}
    db.session.commit()
    return rows


def test_discover_stores_code_schedules_and_keeps_the_operators_enabled(app: Any, monkeypatch: Any) -> None:
    rows = code_rows(app)
    assert set(rows) == {"weekday report", "ping", "nightly cleanup"}
    report, ping, cleanup = rows["weekday report"], rows["ping"], rows["nightly cleanup"]
    assert (report.identifier, report.cron, report.timezone, report.data) == (
        "scheduled",
        "0 6 * * MON-FRI",
        "Europe/Kyiv",
        {"rows": 5},
    )
    assert report.enabled is True  # enabled=None follows STASK_AUTO_ACTIVATE (on in the tests)
    assert ping.enabled is False and ping.next_run_at is None
    assert (cleanup.identifier, cleanup.action, cleanup.enabled) == ("maintenance", "cleanup", True)
    schedules = service(app)
    schedules.set_enabled(report.id, False)  # the operator pauses it
    with pytest.raises(InvalidState):
        schedules.update(report.id, {"cron": "0 7 * * *"})
    with pytest.raises(InvalidState):
        schedules.delete(report.id)
    monkeypatch.setattr(
        ScheduledWorker, "schedules", [Schedule("0 7 * * *", action="report", data={"rows": 6}, name="weekday report")]
    )
    result = app.extensions["stask"].discover_workers()
    assert result["schedules"]["updated"] == ["scheduled:weekday report"]
    assert result["schedules"]["removed"] == ["scheduled:ping"]
    rows = code_rows(app)
    assert set(rows) == {"weekday report", "nightly cleanup"}
    assert (rows["weekday report"].cron, rows["weekday report"].data) == ("0 7 * * *", {"rows": 6})
    assert rows["weekday report"].enabled is False  # still the operator's choice
    monkeypatch.setattr(ScheduledWorker, "schedules", [Schedule("bad cron", action="report")])
    result = app.extensions["stask"].discover_workers()
    assert any("scheduled:report" in item["source"] for item in result["invalid"])


def test_the_nightly_cleanup_is_disabled_without_auto_activate(make_app: Any) -> None:
    app = make_app("sqlite", discover=True, STASK_AUTO_ACTIVATE=False)
    with app.app_context():
        assert code_rows(app)["nightly cleanup"].enabled is False
