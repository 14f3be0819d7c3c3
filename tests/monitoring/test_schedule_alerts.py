"""The schedules' alerts: a missed slot (overdue, or consumed without a task) and the last N runs failed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask.exceptions import InvalidSetting
from stask.models import StoredSchedule, utcnow
from stask.monitoring.alerts import evaluate
from stask.monitoring.schedule_alerts import schedule_rules
from stask.settings import Settings
from tests.support.monitoring import add_rows
from tests.support.queries import Statements
from tests.support.schedule_rows import runs, schedule, set_row


def alerts_of(app: Flask, kind: str) -> dict[str, dict[str, Any]]:
    return {alert["key"]: alert for alert in evaluate(app) if alert["type"] == kind}


def test_an_overdue_schedule_raises_missed_a_fresh_or_paused_one_does_not(app: Flask, stask: Any) -> None:
    now = utcnow()
    late = schedule(stask, name='late "one"', next_run_at=now - timedelta(minutes=20))
    schedule(stask, name="within grace", next_run_at=now - timedelta(seconds=200))  # grace: 300 s
    schedule(stask, name="future")
    schedule(stask, name="paused", enabled=False, next_run_at=now - timedelta(hours=2))
    missed = alerts_of(app, "schedule_missed")
    assert list(missed) == [f"schedule_missed:{late}"]
    alert = missed[f"schedule_missed:{late}"]
    assert alert["severity"] == "warning" and alert["threshold"] == 300
    assert 1190 <= alert["value"] <= 1260
    assert (
        "'late \"one\"'" in alert["message"] and "20 min later" in alert["message"] and "echo.say" in alert["message"]
    )
    set_row(stask, late, next_run_at=now + timedelta(minutes=40))  # fired at last: it clears
    assert alerts_of(app, "schedule_missed") == {}


def test_the_grace_is_a_setting(make_app: Callable[..., Flask]) -> None:
    app = make_app(STASK_ALERT_SCHEDULE_GRACE_SECONDS=60)
    with app.app_context():
        stask = app.extensions["stask"]
        sid = schedule(stask, next_run_at=utcnow() - timedelta(seconds=90))
        assert list(alerts_of(app, "schedule_missed")) == [f"schedule_missed:{sid}"]
    with pytest.raises(InvalidSetting, match="STASK_ALERT_SCHEDULE_GRACE_SECONDS must be at least 1"):
        Settings.from_config({"STASK_ALERT_SCHEDULE_GRACE_SECONDS": 0})
    with pytest.raises(InvalidSetting, match="STASK_ALERT_SCHEDULE_FAILURES"):
        Settings.from_config({"STASK_ALERT_SCHEDULE_FAILURES": -1})


def test_a_slot_consumed_without_a_task_is_missed_an_overlap_skip_is_not(app: Flask, stask: Any) -> None:
    """The reasons are the firing path's own: the schedules fire for real."""
    now = utcnow()
    # The worker is deactivated: its slot goes without a task.
    inactive = schedule(stask, name="inactive worker", next_run_at=now - timedelta(seconds=5))
    # The last task is still queued and overlap is "skip": the operator's policy.
    held = schedule(stask, name="held back", next_run_at=now - timedelta(seconds=5))
    add_rows(stask, [{"status": 10, "schedule_id": held}])
    queued = stask.db.session.execute(sa.text("SELECT max(id) FROM s_tasks")).scalar()
    set_row(stask, held, last_task_id=queued, last_run_at=now - timedelta(hours=1))
    stask.deactivate_worker("echo")
    app.extensions["stask.service"].schedules.fire_due(now)
    rows = {row.id: row for row in stask.db.session.scalars(sa.select(StoredSchedule))}
    assert "no task" in rows[inactive].last_skip_reason and "still queued" in rows[held].last_skip_reason
    missed = alerts_of(app, "schedule_missed")
    assert list(missed) == [f"schedule_missed:{inactive}"]
    assert "without a task" in missed[f"schedule_missed:{inactive}"]["message"]
    # A later slot with a task clears it.
    set_row(stask, inactive, last_run_at=utcnow() + timedelta(seconds=1))
    assert alerts_of(app, "schedule_missed") == {}


def test_misfire_skip_after_a_downtime_is_missed_run_once_is_not(app: Flask, stask: Any) -> None:
    now = utcnow()
    stask.activate_worker("echo")
    skipping = schedule(stask, name="skipping", misfire="skip", next_run_at=now - timedelta(hours=3))
    once = schedule(stask, name="once", misfire="run_once", next_run_at=now - timedelta(hours=3))
    assert set(alerts_of(app, "schedule_missed")) == {f"schedule_missed:{skipping}", f"schedule_missed:{once}"}
    app.extensions["stask.service"].schedules.fire_due(now)
    assert list(alerts_of(app, "schedule_missed")) == [f"schedule_missed:{skipping}"]


@pytest.mark.parametrize(
    ("statuses", "fires"),
    [
        ([80, 100, 100, 100], True),
        ([100, 100], False),  # N - 1 failures
        ([100, 100, 80, 100, 100], False),  # a success among the last three
        ([100, 100, 100, 80], False),  # a later success
        ([100, 100, 100, 10], False),  # the last one is still queued
    ],
)
def test_last_n_runs_failed(app: Flask, stask: Any, statuses: list[int], fires: bool) -> None:
    sid = schedule(stask, name="flaky")
    runs(stask, sid, statuses)
    failing = alerts_of(app, "schedule_failing")
    assert list(failing) == ([f"schedule_failing:{sid}"] if fires else [])
    if fires:
        alert = failing[f"schedule_failing:{sid}"]
        assert (alert["value"], alert["threshold"]) == (3, 3)
        assert "last 3 runs failed" in alert["message"] and "ValueError: the disk is full" in alert["message"]


def test_failures_of_a_paused_schedule_or_with_the_rule_off_raise_nothing(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(STASK_ALERT_SCHEDULE_FAILURES=2)
    with app.app_context():
        stask = app.extensions["stask"]
        two = schedule(stask, name="two")
        runs(stask, two, [100, 100])
        paused = schedule(stask, name="paused", enabled=False)
        runs(stask, paused, [100, 100, 100])
        assert list(alerts_of(app, "schedule_failing")) == [f"schedule_failing:{two}"]
    off = make_app(STASK_ALERT_SCHEDULE_FAILURES=0)
    with off.app_context():
        stask = off.extensions["stask"]
        runs(stask, schedule(stask), [100, 100, 100])
        assert alerts_of(off, "schedule_failing") == {}


def test_the_rules_cost_a_bounded_number_of_statements(app: Flask, stask: Any) -> None:
    """1,000 healthy schedules and two failing ones: the schedule rules add at most three statements."""
    now = utcnow()
    rows = [
        {
            "name": f"healthy {k}",
            "identifier": "echo",
            "action": "say",
            "data": {},
            "interval": 3600,
            "timezone": "UTC",
            "enabled": True,
            "anchor": now,
            "next_run_at": now + timedelta(minutes=10),
            "source": "panel",
            "created_at": now,
            "updated_at": now,
        }
        for k in range(1000)
    ]
    stask.db.session.execute(sa.insert(StoredSchedule), rows)
    stask.db.session.commit()
    for name in ("a", "b"):
        runs(stask, schedule(stask, name=name), [100, 100, 100])
    with Statements(app) as counted:
        alerts = schedule_rules(stask.settings, stask.db.session, utcnow())
    assert len(alerts) == 2
    assert counted.count == 3, counted.statements  # overdue, unwell, the last three tasks of a and b
