"""``flask stask schedules`` and ``flask stask schedule …``: output, refusals in one line, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask.models import StoredSchedule, Task
from tests.schedules.plugins import SCHEDULE_WORKERS

pytestmark = pytest.mark.app_config(STASK_WORKERS=SCHEDULE_WORKERS)


@pytest.fixture
def cli(sqlite_app: Flask) -> Any:
    runner = sqlite_app.test_cli_runner()

    def invoke(*args: str) -> Any:
        return runner.invoke(args=["stask", *args])

    return invoke


def panel_schedules(app: Flask) -> int:
    db = app.extensions["stask"].db
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(StoredSchedule).where(StoredSchedule.source == "panel")
    )
    db.session.commit()
    return int(count or 0)


def test_add_list_update_pause_resume_run_remove(cli: Any, sqlite_app: Flask) -> None:
    result = cli(
        "schedule", "add", "echo", "say", "--cron", "@hourly", "--name", "hourly hello", "--data", '{"text": "x"}'
    )
    assert result.exit_code == 0, result.output
    schedule_id = int(result.output.strip())
    listing = cli("schedules")
    assert listing.exit_code == 0
    line = next(line for line in listing.output.splitlines() if "hourly hello" in line)
    assert "echo.say" in line and "0 * * * *" in line and "enabled" in line and line.endswith("panel")
    assert "nightly cleanup" in listing.output  # the built-in code schedule
    updated = cli("schedule", "update", str(schedule_id), "--interval", "90", "--timezone", "Europe/Kyiv")
    assert updated.exit_code == 0 and "every 90s" in updated.output, updated.output
    assert cli("schedule", "pause", str(schedule_id)).output.strip() == f"schedule {schedule_id} paused"
    assert "paused" in next(line for line in cli("schedules").output.splitlines() if "hourly hello" in line)
    assert f"schedule {schedule_id} resumed; next run " in cli("schedule", "resume", str(schedule_id)).output
    task_id = int(cli("schedule", "run", str(schedule_id)).output.strip())
    assert sqlite_app.extensions["stask"].db.session.get(Task, task_id).schedule_id == schedule_id
    assert cli("schedule", "remove", str(schedule_id)).exit_code == 0
    assert panel_schedules(sqlite_app) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("schedule", "add", "echo", "say", "--cron", "0 0 3 * * *"), "cron must have 5 fields"),
        (("schedule", "add", "echo", "say", "--interval", "0"), "interval must be"),
        (("schedule", "add", "echo", "say"), "give either cron"),
        (("schedule", "add", "echo", "say", "--cron", "@daily", "--interval", "60"), "give either cron"),
        (("schedule", "add", "echo", "say", "--interval", "60", "--timezone", "Mars/Base"), "timezone"),
        (("schedule", "add", "ghost", "say", "--interval", "60"), "no worker 'ghost'"),
        (("schedule", "add", "echo", "fly", "--interval", "60"), "no action 'fly'"),
        (("schedule", "add", "scheduled", "report", "--interval", "60", "--data", '{"rows": "many"}'), "data.rows"),
        (("schedule", "add", "echo", "say", "--interval", "60", "--data", "{nope"), "--data is not valid JSON"),
        (("schedule", "pause", "999"), "no schedule 999"),
        (("schedule", "run", "999"), "no schedule 999"),
        (("schedule", "update", "999"), "nothing to change"),
    ],
)
def test_bad_input_is_refused_in_one_line_and_nothing_is_stored(
    cli: Any, sqlite_app: Flask, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert panel_schedules(sqlite_app) == 0


def test_a_code_schedule_is_refused_except_pause_and_resume(cli: Any, sqlite_app: Flask) -> None:
    row = sqlite_app.extensions["stask"].db.session.scalar(
        sa.select(StoredSchedule).where(StoredSchedule.name == "weekday report")
    )
    result = cli("schedule", "update", str(row.id), "--cron", "0 9 * * *")
    assert result.exit_code == 1 and "declared in code" in result.output
    assert cli("schedule", "remove", str(row.id)).exit_code == 1
    assert cli("schedule", "pause", str(row.id)).exit_code == 0


def test_process_fires_due_schedules_then_runs_their_tasks(cli: Any, sqlite_app: Flask) -> None:
    service = sqlite_app.extensions["stask.service"].schedules
    db = sqlite_app.extensions["stask"].db
    db.session.execute(sa.update(StoredSchedule).values(enabled=False))
    row = service.create({"identifier": "echo", "action": "say", "interval": 60, "data": {"text": "cron"}})
    db.session.execute(
        sa.update(StoredSchedule)
        .where(StoredSchedule.id == row.id)
        .values(next_run_at=row.next_run_at.replace(year=2025))
    )
    db.session.commit()
    result = cli("process")
    assert result.exit_code == 0, result.output
    assert "schedules: 1 task(s) created" in result.output and "1 task(s) finished" in result.output
    task = db.session.scalar(sa.select(Task).where(Task.schedule_id == row.id))
    assert task.message == "hello cron"
