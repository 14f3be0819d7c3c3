"""A worker that declares schedules in code (registered by the schedule tests through ``STASK_WORKERS``)."""

from __future__ import annotations

from typing import Any

from stask import BaseWorker, Schedule
from tests.support.apps import TEST_WORKERS


class ScheduledWorker(BaseWorker):
    identifier = "scheduled"
    scope = "tests"
    title = "Scheduled"
    action_fields = {
        "report": {
            "rows": {"type": "int", "default": 10, "min": 1, "max": 1000},
            "format": {"type": "choice", "choices": ["csv", "json"], "default": "csv"},
        }
    }
    schedules = [
        Schedule("0 6 * * MON-FRI", action="report", data={"rows": 5}, name="weekday report", timezone="Europe/Kyiv"),
        Schedule(interval=300, action="ping", enabled=False),
    ]

    def task_report(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished(f"{options.get('rows')} rows")

    def task_ping(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished("pong")


SCHEDULE_WORKERS = TEST_WORKERS + ",tests.schedules.plugins:ScheduledWorker"
