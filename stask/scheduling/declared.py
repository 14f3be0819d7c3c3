"""How a worker class declares its schedules: ``schedules = [Schedule("0 3 * * *", action="cleanup")]``.

``flask stask discover`` stores each as an ``s_schedules`` row marked ``source="code"``,
keyed by worker and ``name``; see :meth:`stask.service.schedules.ScheduleService.sync_code`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Schedule:
    """One schedule of a worker class: a cron expression (first argument) or ``interval`` seconds.

    ``name`` defaults to the action and must be unique within the class. ``enabled=None``
    follows ``STASK_AUTO_ACTIVATE`` when the schedule is first stored (like a new worker);
    afterwards the operator owns it (pause and resume), and code changes leave it alone.
    """

    cron: str | None = None
    action: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    interval: int | None = None
    priority: str = "normal"
    timezone: str = "UTC"
    enabled: bool | None = None
    misfire: str = "run_once"
    overlap: str = "skip"
    jitter: int = 0
    start_date: datetime | str | None = None
    end_date: datetime | str | None = None

    @property
    def key(self) -> str:
        return self.name or self.action

    def fields(self) -> dict[str, Any]:
        """The values the service validates and stores (``enabled`` aside)."""
        return {
            "name": self.key,
            "action": self.action,
            "data": dict(self.data),
            "priority": self.priority,
            "cron": self.cron,
            "interval": self.interval,
            "timezone": self.timezone,
            "misfire": self.misfire,
            "overlap": self.overlap,
            "jitter": self.jitter,
            "start_date": self.start_date,
            "end_date": self.end_date,
        }
